"""Lost or broken links: the page a bad link shows, "send me a new link" (``/link/new``), and the short
links of SMS (``/s/{code}``), which lead to their task link while it works and show its page when not.

A link that is not ours (tampered, unknown task) gets one page and status whatever the fault, so it
tells an outsider nothing about which tasks or people exist. Only a link we signed learns more
(replaced, cancelled, expired, closed), so its holder knows what to do next. The request form answers the same
for known and unknown addresses, is limited per client and per address, and needs a CSRF token: a
random value in a cookie, and that value signed for this form in the form.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from aarshjul.presentation.i18n import gettext
from aarshjul.signing import FormPurpose
from aarshjul.usecases.admin.task_links import revoke_task_link
from aarshjul.usecases.personal.new_link import request_new_link
from aarshjul.usecases.work.links import LinkReason, LinkRefused, resolve_short_link
from service.api_errors import HR_ERRORS
from service.auth import ApiHr
from service.deps import LanguageDep, RuntimeDep
from service.email_request import EmailRequestForm
from service.pages import lang_query, message_page
from service.params import IdPath
from service.rate_limit import RequestLimits

router = APIRouter(tags=["links"])

NEW_LINK_PATH = "/link/new"
CSRF_COOKIE = "aarshjul_link_csrf"
#: Every link that is not ours answers with the same status, whatever the fault.
INVALID_LINK_STATUS = 404


#: What a link that cannot be used says, by reason: (title, explanation).
_LINK_PROBLEMS = {
    LinkReason.INVALID: (
        "This link does not work",
        "The link is incomplete or was not made by Årshjul. Copy the whole link from the email, or ask for a new link.",
    ),
    LinkReason.REPLACED: (
        "This link has been replaced",
        "The task has been given to someone else, or a newer link has been sent. Use the newest "
        "email, or ask for a new link.",
    ),
    LinkReason.CANCELLED: (
        "This task is no longer needed",
        "The task was cancelled, so there is nothing to fill in. Nothing you submitted earlier is lost.",
    ),
    LinkReason.EXPIRED: (
        "This link has expired",
        "The task closed some time ago, so the link no longer opens it. Ask for a new link if you "
        "still need to see it.",
    ),
    LinkReason.CLOSED: (
        "This task is closed",
        "The task no longer takes changes, so what you sent was not saved. You can still read "
        "your receipt from the link in the email.",
    ),
}


def link_problem_page(request: Request, language: str, reason: LinkReason, posted: bool) -> HTMLResponse:
    """The page of a task link that cannot be used (``/t/{token}``), with a way to a new link."""
    _ = partial(gettext, language)
    title, text = _LINK_PROBLEMS[reason]
    paragraphs = [_(text)]
    if posted:
        paragraphs.insert(0, _("What you sent was not saved."))
    status = INVALID_LINK_STATUS if reason is LinkReason.INVALID else 409 if posted else 410
    return message_page(
        request,
        language,
        _(title),
        paragraphs,
        status,
        link_href=NEW_LINK_PATH + lang_query(request),
        link_text=_("Send me a new link"),
    )


NEW_LINK_FORM = EmailRequestForm(
    path=NEW_LINK_PATH,
    template="links/new.html",
    purpose=FormPurpose.NEW_LINK,
    cookie=CSRF_COOKIE,
    limits=RequestLimits.hourly("new-link", per_client=10, per_address=3),
    ask_address="Type the email address you got the link at.",
    too_many="Please wait a while before you ask for new links again.",
    sent=(
        "If this address belongs to someone with open tasks in the annual cycle, we have sent new links "
        "to it. The email should arrive within a few minutes.",
        "No email? Check your spam folder, or ask HR which address they have for you.",
    ),
)


@router.get(
    "/s/{code}",
    response_class=RedirectResponse,
    status_code=302,
    summary="A short link from an SMS",
    responses={
        302: {"description": "To the task link it stands for"},
        404: {"description": "Not a short link of ours (a page)", "content": {"text/html": {}}},
        410: {"description": "Its task link was replaced, cancelled or expired (a page)", "content": {"text/html": {}}},
    },
)
def short_link(code: str, request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    try:
        target = resolve_short_link(runtime, code)
    except LinkRefused as refused:
        return link_problem_page(request, language, refused.reason, posted=False)
    # The target holds the task's token: no cache keeps it, and the page it opens sends no referrer.
    return RedirectResponse(
        target, status_code=302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@router.get(NEW_LINK_PATH, response_class=HTMLResponse, include_in_schema=False)
def new_link_form(request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    return NEW_LINK_FORM.render(request, runtime, language)


@router.post(NEW_LINK_PATH, response_class=HTMLResponse, include_in_schema=False)
def new_link_request(
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=254)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return NEW_LINK_FORM.handle(request, runtime, language, background, email, csrf_token, request_new_link)


class LinkRevoked(BaseModel):
    task_id: int
    link_version: int


@router.post("/api/tasks/{task_id}/link/revoke", response_model=LinkRevoked, tags=["hr"], responses=HR_ERRORS)
def revoke_link(task_id: IdPath, access: ApiHr, runtime: RuntimeDep) -> LinkRevoked:
    """HR revokes every link sent for a task; its assignee gets a new one at their address on file."""
    version = revoke_task_link(runtime, task_id, actor=access.principal.actor)
    return LinkRevoked(task_id=task_id, link_version=version)
