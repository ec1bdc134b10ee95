"""Lost or broken links: the page a bad link shows, and "send me a new link" (``/link/new``).

A link that is not ours (tampered, unknown task) gets one page and status whatever the fault, so it
tells an outsider nothing about which tasks or people exist. Only a link we signed learns more
(replaced, cancelled, expired, closed), so its holder knows what to do next. The request form answers the same
for known and unknown addresses, is limited per client and per address, and needs a CSRF token: a
random value in a cookie, and its HMAC in the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import partial
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from aarshjul.runtime import Runtime
from aarshjul.usecases.submissions import LinkReason
from aarshjul.usecases.task_links import revoke_task_link
from notifications.rate_limit import LinkRequestLimiter
from notifications.recovery import normalise_email, request_new_link
from service.auth import ApiHr
from service.deps import LanguageDep, RuntimeDep
from service.i18n import gettext
from service.pages import lang_query, message_page, page

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


def _limiter(request: Request) -> LinkRequestLimiter:
    limiter: LinkRequestLimiter | None = getattr(request.app.state, "link_limiter", None)
    if limiter is None:
        limiter = LinkRequestLimiter()
        request.app.state.link_limiter = limiter
    return limiter


def _csrf_token(runtime: Runtime, nonce: str) -> str:
    return hmac.new(runtime.settings.secret().encode(), f"link-new:{nonce}".encode(), hashlib.sha256).hexdigest()


def _form(
    request: Request, runtime: Runtime, language: str, email: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request,
        "pages/link_new.html",
        {"csrf_token": _csrf_token(runtime, nonce), "email": email, "error": error, "action": NEW_LINK_PATH},
        language,
        status,
    )
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=runtime.settings.base_url.startswith("https://"),
        path=NEW_LINK_PATH,
        max_age=2 * 3600,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(NEW_LINK_PATH, response_class=HTMLResponse)
def new_link_form(request: Request, runtime: RuntimeDep, language: LanguageDep) -> HTMLResponse:
    return _form(request, runtime, language)


def send_new_links(runtime: Runtime, address: str) -> None:
    """The lookup and the queuing, run after the answer has gone out (see ``new_link_request``)."""
    if request_new_link(runtime, address):
        runtime.triggers.dispatch()


@router.post(NEW_LINK_PATH, response_class=HTMLResponse)
def new_link_request(
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=254)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    _ = partial(gettext, language)
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if not nonce or not hmac.compare_digest(csrf_token, _csrf_token(runtime, nonce)):
        return _form(request, runtime, language, email, _("The form had expired. Please send it again."), status=403)
    address = normalise_email(email)
    if "@" not in address:
        return _form(request, runtime, language, email, _("Type the email address you got the link at."), 422)
    client = request.client.host if request.client else "unknown"
    if not _limiter(request).allow(client, address):
        return message_page(
            request,
            language,
            _("Too many requests"),
            [_("Please wait a while before you ask for new links again.")],
            429,
        )
    # Looking the address up only after the answer is sent keeps its timing the same for known and
    # unknown addresses: a known one costs an insert, a commit that writes and a dispatcher trigger.
    background.add_task(send_new_links, runtime, address)
    return message_page(
        request,
        language,
        _("Check your email"),
        [
            _(
                "If this address belongs to someone with open tasks in the annual cycle, we have sent new links "
                "to it. The email should arrive within a few minutes."
            ),
            _("No email? Check your spam folder, or ask HR which address they have for you."),
        ],
        200,
    )


class LinkRevoked(BaseModel):
    task_id: int
    link_version: int


@router.post("/api/tasks/{task_id}/link/revoke", response_model=LinkRevoked, tags=["hr"])
def revoke_link(task_id: int, access: ApiHr, runtime: RuntimeDep) -> LinkRevoked:
    """HR revokes every link sent for a task; its assignee gets a new one at their address on file."""
    version = revoke_task_link(runtime, task_id, actor=access.principal.actor)
    return LinkRevoked(task_id=task_id, link_version=version)
