"""A person's own data: ``/me/data`` (ask for an export of everything stored about you),
``/me/data/{token}`` (the emailed one-time link: a page, then the download) and
``/me/follow-ups/{token}`` (an employee reads the follow-up their leader wrote about them).

No JavaScript. The request form follows ``/link/new``: a CSRF cookie and its signature in the form, limits
per client and per address, and the same answer for known and unknown addresses. Opening the export
link changes nothing; only the download button (a POST, with a CSRF token bound to the link) spends it.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, Response

from aarshjul.presentation.i18n import gettext, translations
from aarshjul.signing import FormPurpose, form_csrf, form_csrf_ok
from aarshjul.usecases.personal.export import (
    ExportLinkProblem,
    ExportLinkRefused,
    check_export_link,
    export_personal_data,
    request_export,
)
from aarshjul.usecases.personal.follow_up_view import FollowUpNotFound, read_follow_up
from forms.layout import build_view
from forms.models import TalkFollowUpForm
from service.deps import LanguageDep, RuntimeDep
from service.email_request import EmailRequestForm, no_store
from service.pages import message_page, page
from service.rate_limit import RequestLimits

#: Pages for people, not an API: outside the OpenAPI document.
router = APIRouter(tags=["personal data"], include_in_schema=False)

DATA_PATH = "/me/data"
CSRF_COOKIE = "aarshjul_data_csrf"
EXPORT_FILENAME = "aarshjul-my-data.json"


DATA_REQUEST_FORM = EmailRequestForm(
    path=DATA_PATH,
    template="personal_data/request.html",
    purpose=FormPurpose.DATA_REQUEST,
    cookie=CSRF_COOKIE,
    limits=RequestLimits.hourly("personal-data", per_client=10, per_address=3),
    ask_address="Type your work email address.",
    too_many="Please wait a while before you ask again.",
    sent=(
        "If this address belongs to someone in the organisation, we have sent a link to their data "
        "to it. The email should arrive within a few minutes; the link works once, for seven days.",
        "No email? Check your spam folder, or ask HR which address they have for you.",
    ),
)


@router.get(DATA_PATH, response_class=HTMLResponse, summary="Ask for an export of your data")
def data_request_form(request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    return DATA_REQUEST_FORM.render(request, runtime, language)


@router.post(DATA_PATH, response_class=HTMLResponse, summary="Send me a link to my data")
def data_request(
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=254)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return DATA_REQUEST_FORM.handle(request, runtime, language, background, email, csrf_token, request_export)


# --- the emailed link -----------------------------------------------------------------------------


def _refused(request: Request, language: str, problem: ExportLinkProblem) -> Response:
    _ = partial(gettext, language)
    texts = {
        ExportLinkProblem.INVALID: (
            _("This link does not work"),
            _("The link is incomplete or was not made by Årshjul. Copy the whole link from the email."),
            404,
        ),
        ExportLinkProblem.EXPIRED: (
            _("This link has expired"),
            _("A link to your data works for seven days. Ask for a new one: it takes a minute."),
            410,
        ),
        ExportLinkProblem.USED: (
            _("This link has been used"),
            _(
                "Your data was downloaded with this link, and a link works only once. "
                "Ask for a new one if you need it again."
            ),
            410,
        ),
    }
    title, text, status = texts[problem]
    return no_store(
        message_page(
            request, language, title, [text], status, link_href=DATA_PATH, link_text=_("Ask for a new link to my data")
        )
    )


@router.get(DATA_PATH + "/{token}", response_class=HTMLResponse, summary="The page of an export link")
def export_page(token: str, request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    try:
        link = check_export_link(runtime, token)
    except ExportLinkRefused as exc:
        return _refused(request, language, exc.problem)
    csrf = form_csrf(runtime.settings.secret(), FormPurpose.DATA_DOWNLOAD, token)
    context = {"name": link.name, "expires_at": link.expires_at, "csrf_token": csrf}
    return no_store(page(request, "personal_data/download.html", context, language))


@router.post(DATA_PATH + "/{token}", summary="Download the export (spends the link)")
def export_download(
    token: str,
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not form_csrf_ok(runtime.settings.secret(), FormPurpose.DATA_DOWNLOAD, token, csrf_token):
        _ = partial(gettext, language)
        return no_store(
            message_page(
                request,
                language,
                _("The page had expired"),
                [_("Open the link from the email again and press the button.")],
                403,
            )
        )
    try:
        document = export_personal_data(runtime, token)
    except ExportLinkRefused as exc:
        return _refused(request, language, exc.problem)
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    return no_store(
        Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"'},
        )
    )


# --- a follow-up, for the employee ------------------------------------------------------------------


@router.get("/me/follow-ups/{token}", response_class=HTMLResponse, summary="Read a follow-up about you")
def follow_up_page(token: str, request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    try:
        follow_up = read_follow_up(runtime, token)
    except FollowUpNotFound:
        _ = partial(gettext, language)
        return message_page(
            request,
            language,
            _("This link does not work"),
            [_("The link is incomplete, or there is no follow-up to read. Copy the whole link from the email.")],
            404,
        )
    tr = translations(language).gettext
    view = build_view(TalkFollowUpForm, follow_up.data, {}, {}, tr, editable=False)
    return no_store(page(request, "personal_data/follow_up.html", {"follow_up": follow_up, "view": view}, language))
