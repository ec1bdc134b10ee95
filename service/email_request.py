"""Forms anyone may post with an email address: "send me a new link" and "send me my data".

They share what keeps them safe: a CSRF token (a random value in a cookie, and in the form that
value signed for this form's purpose by ``aarshjul.signing``), limits per client and per address, no
caching, and one answer for known and unknown addresses. The lookup itself runs after the answer has
gone out, so not even its timing tells the two apart.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from fastapi import BackgroundTasks, Request
from fastapi.responses import Response

from aarshjul.domain.addresses import normalise_email
from aarshjul.presentation.i18n import gettext
from aarshjul.runtime import Runtime
from aarshjul.signing import FormPurpose, form_csrf, form_csrf_ok
from service.pages import message_page, page
from service.rate_limit import RequestLimits, client_address

#: What a request does for an address: the number of messages it queued (then the dispatcher is asked to run).
RequestAction = Callable[[Runtime, str], int]


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the links these pages send are credentials
    return response


@dataclass(frozen=True)
class EmailRequestForm:
    path: str
    template: str
    purpose: FormPurpose  #: binds the CSRF token to this form
    cookie: str
    limits: RequestLimits  #: each form has its own limits, so one does not use up the other
    ask_address: str  #: message id: the address is missing or malformed
    too_many: str  #: message id: the limit is reached
    sent: tuple[str, ...]  #: message ids: the answer, the same whether or not the address is known

    def render(
        self,
        request: Request,
        runtime: Runtime,
        language: str,
        email: str = "",
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        nonce = request.cookies.get(self.cookie) or secrets.token_urlsafe(24)
        context = {
            "csrf_token": form_csrf(runtime.settings.secret(), self.purpose, nonce),
            "email": email,
            "error": error,
            "action": self.path,
        }
        response = page(request, self.template, context, language, status)
        response.set_cookie(
            self.cookie,
            nonce,
            httponly=True,
            samesite="strict",
            secure=runtime.settings.base_url.startswith("https://"),
            path=self.path,
            max_age=2 * 3600,
        )
        return no_store(response)

    def handle(
        self,
        request: Request,
        runtime: Runtime,
        language: str,
        background: BackgroundTasks,
        email: str,
        csrf_token: str,
        action: RequestAction,
    ) -> Response:
        _ = partial(gettext, language)
        nonce = request.cookies.get(self.cookie, "")
        if not form_csrf_ok(runtime.settings.secret(), self.purpose, nonce, csrf_token):
            return self.render(request, runtime, language, email, _("The form had expired. Please send it again."), 403)
        address = normalise_email(email)
        if "@" not in address:
            return self.render(request, runtime, language, email, _(self.ask_address), 422)
        client = client_address(request, runtime.settings.trusted_proxy_networks)
        if not self.limits.allow(runtime, client, address):
            return message_page(request, language, _("Too many requests"), [_(self.too_many)], 429)
        background.add_task(_run, action, runtime, address)
        return no_store(message_page(request, language, _("Check your email"), [_(text) for text in self.sent], 200))


def _run(action: RequestAction, runtime: Runtime, address: str) -> None:
    if action(runtime, address):
        runtime.triggers.dispatch()
