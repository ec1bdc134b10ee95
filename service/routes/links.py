"""Lost or broken links: the page a bad link shows, and "send me a new link" (``/link/new``).

Every kind of bad link (tampered, unknown, replaced, cancelled, expired) gets the same page, so the
page tells an outsider nothing about which tasks or people exist. The request form answers the same
for known and unknown addresses, is limited per client and per address, and needs a CSRF token: a
random value in a cookie, and its HMAC in the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from aarshjul.runtime import Runtime
from notifications.rate_limit import LinkRequestLimiter
from notifications.recovery import normalise_email, request_new_link
from service.deps import LanguageDep, RuntimeDep
from service.i18n import gettext
from service.pages import message_page, page

router = APIRouter(tags=["links"])

NEW_LINK_PATH = "/link/new"
CSRF_COOKIE = "aarshjul_link_csrf"
#: Every bad link answers with the same status, whatever the reason.
INVALID_LINK_STATUS = 404


def invalid_link_page(request: Request, language: str) -> HTMLResponse:
    """What a link that cannot be used shows, whatever the reason. For the ``/t/{token}`` route."""
    _ = partial(gettext, language)
    return message_page(
        request,
        language,
        _("This link does not work"),
        [
            _(
                "The link may be incomplete or changed, it may have been replaced by a newer link, the task may "
                "have been given to someone else, or it closed some time ago."
            ),
            _("If you still have tasks in the annual cycle, we can send you new links."),
        ],
        INVALID_LINK_STATUS,
        link_href=NEW_LINK_PATH,
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


@router.post(NEW_LINK_PATH, response_class=HTMLResponse)
def new_link_request(
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
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
    if request_new_link(runtime, address):
        runtime.triggers.dispatch()
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
