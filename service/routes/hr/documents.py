"""The plan and its yearly status as PDF documents, for HR's pages and the API alike: rendered from
the same templates as the pages (hr/_plan.html) and printed by WeasyPrint. Where WeasyPrint's
system libraries are missing the answer is 503 with a message that says so, never a crash."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from aarshjul.presentation.i18n import gettext
from aarshjul.presentation.pdf import PdfUnavailable, html_to_pdf
from aarshjul.presentation.templating import render
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning.plan import CompetencePlan
from aarshjul.usecases.planning.status import YearlyStatus
from service.pages import message_page

PDF_MEDIA = "application/pdf"
UNAVAILABLE = "PDF documents cannot be made on this server: the system libraries WeasyPrint needs are missing."


def plan_pdf(runtime: Runtime, plan: CompetencePlan, organisation: str, language: str) -> bytes:
    context = {"plan": plan, "organisation": organisation}
    return html_to_pdf(render("hr/plan_pdf.html", context, language, runtime.settings.zone))


def status_pdf(runtime: Runtime, status: YearlyStatus, organisation: str, language: str) -> bytes:
    context = {"status": status, "organisation": organisation}
    return html_to_pdf(render("hr/status_pdf.html", context, language, runtime.settings.zone))


def pdf_answer(request: Request, language: str, make: Callable[[], bytes], filename: str) -> Response:
    """The PDF as a download, or 503 (JSON for the API, a page for a browser) when it cannot be made."""
    try:
        content = make()
    except PdfUnavailable:
        message = gettext(language, UNAVAILABLE)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=503)
        return message_page(request, language, gettext(language, "No PDF right now"), [message], 503)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=PDF_MEDIA, headers=headers)
