"""A person's deadlines in their own calendar: the feed (``/calendar/{token}.ics``) and the page behind a
task link where they find its address and can ask for a new one (``/t/{token}/calendar``).

The feed is personal and its address is its credential: shared caches must not keep it (``private``),
a calendar program asks again each time (``no-cache``) and gets 304 when nothing changed (ETag).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aarshjul.presentation.i18n import gettext
from aarshjul.signing import FormPurpose, form_csrf, form_csrf_ok
from aarshjul.usecases.work.calendar import FeedNotFound, calendar_address, calendar_feed, new_calendar_address
from aarshjul.usecases.work.links import LinkRefused
from service.deps import LanguageDep, RuntimeDep
from service.email_request import no_store
from service.pages import lang_query, message_page, page
from service.routes.links import link_problem_page

router = APIRouter(tags=["calendar"])

FEED_HEADERS = {
    "Cache-Control": "private, no-cache",
    "Content-Disposition": 'inline; filename="aarshjul.ics"',
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


@router.get(
    "/calendar/{token}.ics",
    summary="A person's open tasks and deadlines as an iCalendar feed",
    responses={
        200: {"content": {"text/calendar": {}}, "description": "The feed"},
        304: {"description": "Not changed (If-None-Match)"},
        404: {"description": "No feed at this address (not ours, replaced, or its person has left)"},
    },
)
def feed(token: str, request: Request, runtime: RuntimeDep) -> Response:
    try:
        found = calendar_feed(runtime, token)
    except FeedNotFound:
        return Response(
            "no such calendar\n", status_code=404, media_type="text/plain", headers={"Cache-Control": "no-store"}
        )
    headers = {**FEED_HEADERS, "ETag": found.etag}
    wanted = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
    if found.etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type="text/calendar; charset=utf-8", headers=headers)


def _page(request: Request, runtime: RuntimeDep, language: str, token: str, renewed: bool) -> Response:
    try:
        address = calendar_address(runtime, token)
    except LinkRefused as refused:
        return link_problem_page(request, language, refused.reason, posted=False)
    context = {
        "address": address,
        "renewed": renewed,
        "csrf": form_csrf(runtime.settings.secret(), FormPurpose.CALENDAR_ADDRESS, token),
        "task_href": f"/t/{token}{lang_query(request)}",
    }
    return no_store(page(request, "calendar/address.html", context, language))


LINK_PAGES: dict[int | str, dict[str, object]] = {
    404: {"description": "Not a task link of ours (a page)", "content": {"text/html": {}}},
    410: {"description": "The task link was replaced, cancelled or expired (a page)", "content": {"text/html": {}}},
}


@router.get(
    "/t/{token}/calendar",
    response_class=HTMLResponse,
    include_in_schema=False,  # a page, as the task's own; the feed is in the document
    summary="The address of your calendar feed",
    responses=LINK_PAGES,
)
def address_page(token: str, request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    return _page(request, runtime, language, token, renewed=bool(request.query_params.get("renewed")))


@router.post(
    "/t/{token}/calendar",
    response_class=HTMLResponse,
    include_in_schema=False,
    status_code=303,
    summary="A new calendar address (the old stops)",
    responses={
        **LINK_PAGES,
        303: {"description": "To the page with the new address"},
        403: {"description": "The form had expired (a page)", "content": {"text/html": {}}},
        409: {"description": "The task link no longer works (a page)", "content": {"text/html": {}}},
    },
)
def renew_address(
    token: str,
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not form_csrf_ok(runtime.settings.secret(), FormPurpose.CALENDAR_ADDRESS, token, csrf):
        title = gettext(language, "The page had expired")
        text = gettext(language, "Open the page again from your task and press the button.")
        return message_page(request, language, title, [text], 403)
    try:
        new_calendar_address(runtime, token)
    except LinkRefused as refused:
        return link_problem_page(request, language, refused.reason, posted=True)
    return RedirectResponse(f"/t/{token}/calendar{lang_query(request, renewed='1')}", status_code=303)
