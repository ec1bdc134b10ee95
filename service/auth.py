"""HR authentication at the web edge: one interface for signing in, one session cookie, one check.

``SignInMethod`` is the seam: today ``PasswordSignIn`` shows a form and checks an argon2 hash; an
OIDC method (Entra ID, ID-porten) would redirect to the provider in ``start`` and read its callback
in ``finish``. Whatever the method, a successful sign-in ends in the same signed session cookie, and
every HR page and API checks that cookie or an ``Authorization: Bearer`` token through ``current_hr``.

The cookie is a token of ``aarshjul.signing`` (its own purpose), HttpOnly, SameSite=Lax, Secure on
https, and lives eight hours at most. It names a server-side session (``hr_session``), which signing
out, a new password or an hour without use ends. It carries a CSRF token that every HR form must echo; API calls
authenticated by the cookie must send it as ``X-CSRF-Token``. Calls with a bearer token need no CSRF
token: a browser never sends one on its own. The sign-in form, before any session, has its own CSRF
token: a random value in a cookie, signed for that form. After signing in, the browser goes back only
to a path on this site (``service.redirects``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from aarshjul.clock import local_date
from aarshjul.domain.errors import Forbidden, NotFound
from aarshjul.presentation.i18n import gettext
from aarshjul.runtime import Runtime
from aarshjul.signing import (
    HR_SESSION_MAX_AGE,
    BadToken,
    FormPurpose,
    HrSessionClaims,
    form_csrf,
    form_csrf_ok,
    hr_session_token,
    read_hr_session_token,
    tokens_equal,
)
from aarshjul.usecases.admin.hr_access import (
    HrPrincipal,
    SignInOutcome,
    principal_for_session,
    principal_for_token,
    sign_in,
    touch_api_token,
    touch_session,
)
from service.deps import RuntimeDep, get_language
from service.pages import message_page, page
from service.redirects import path_on_site, safe_next

SESSION_COOKIE = "aarshjul_hr"
LOGIN_CSRF_COOKIE = "aarshjul_login_csrf"
LOGIN_PATH = "/hr/login"
#: Where HR lands after signing in when the page they came from is unknown or not on this site.
HOME = "/board"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_address(request: Request) -> str:
    """The client's address as the server saw it (the proxy's, behind one)."""
    return request.client.host if request.client is not None else ""


def _secure(runtime: Runtime) -> bool:
    return runtime.settings.base_url.startswith("https://")


def set_session_cookie(response: Response, runtime: Runtime, principal: HrPrincipal, session_id: str) -> None:
    claims = HrSessionClaims(principal.person_id, session_id, secrets.token_urlsafe(24))
    value = hr_session_token(runtime.settings.secret(), claims, runtime.clock())
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(HR_SESSION_MAX_AGE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(runtime),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def read_session(request: Request, runtime: Runtime) -> HrSessionClaims | None:
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    try:
        return read_hr_session_token(runtime.settings.secret(), value, runtime.clock())
    except BadToken:  # also when expired
        return None


# --- the checks ---------------------------------------------------------------------------------


class SignInRequired(Exception):
    """An HR page was asked for without a valid session; the page route answers 401 with the form."""


class NotHr(Exception):
    """The caller is signed in (or holds a token) but is not an active HR person."""


@dataclass(frozen=True)
class HrAccess:
    principal: HrPrincipal
    csrf: str  #: empty for token calls
    session_id: str = ""  #: the browser session's id; empty for token calls


def _today(runtime: Runtime) -> dt.date:
    return local_date(runtime.clock(), runtime.settings.zone)


def resolve_access(request: Request, runtime: Runtime) -> HrAccess:
    """Who is calling: a bearer token wins over the cookie. Raises SignInRequired or NotHr."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise SignInRequired
        with runtime.sessions() as session:
            try:
                checked = principal_for_token(session, token, runtime.clock(), _today(runtime))
            except NotFound as exc:
                raise SignInRequired from exc
            except Forbidden as exc:
                raise NotHr from exc
        if checked.stale:
            touch_api_token(runtime, checked.token_id)
        return HrAccess(checked.principal, "")
    hr_session = read_session(request, runtime)
    if hr_session is None:
        raise SignInRequired
    with runtime.sessions() as session:
        found = principal_for_session(
            session, hr_session.person_id, hr_session.session_id, runtime.clock(), _today(runtime)
        )
    if found is None:
        raise SignInRequired
    if found.stale:
        touch_session(runtime, hr_session.session_id)
    return HrAccess(found.principal, hr_session.csrf, hr_session.session_id)


async def _check_csrf(request: Request, access: HrAccess) -> None:
    if request.method in SAFE_METHODS or access.principal.via == "token":
        return
    given = request.headers.get("x-csrf-token", "")
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # starlette caches the parsed form for the route's own Form fields
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else ""
    if not given or not tokens_equal(given, access.csrf):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token; reload the page and try again")


#: Declares the bearer scheme in the OpenAPI document; ``resolve_access`` reads the header itself
#: (it also takes the session cookie), so this never refuses on its own.
BEARER = HTTPBearer(auto_error=False, description="An HR API token from `aarshjul hr token`")


async def api_access(
    request: Request, runtime: RuntimeDep, _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> HrAccess:
    """For /api routes: 401 without credentials, 403 for a non-HR token or a missing CSRF token.

    The lookup reads the database, so it runs on a worker thread, not on the event loop every
    request shares."""
    try:
        access = await run_in_threadpool(resolve_access, request, runtime)
    except SignInRequired as exc:
        raise HTTPException(
            status_code=401, detail="sign in or send an HR API token", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    except NotHr as exc:
        raise HTTPException(status_code=403, detail="only HR may use this") from exc
    await _check_csrf(request, access)
    return access


async def page_access(request: Request, runtime: RuntimeDep) -> HrAccess:
    """For HR pages: ``HrPageRoute`` turns SignInRequired into the sign-in form with status 401."""
    access = await run_in_threadpool(resolve_access, request, runtime)
    await _check_csrf(request, access)
    return access


ApiHr = Annotated[HrAccess, Depends(api_access)]
PageHr = Annotated[HrAccess, Depends(page_access)]


class HrPageRoute(APIRoute):
    """Route class of the HR page router: a missing session answers 401 with the sign-in form
    (so the browser shows it and comes back to the same page), a non-HR caller gets 403."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except SignInRequired:
                runtime: Runtime = request.app.state.runtime
                language = get_language(request)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method not in SAFE_METHODS:  # back to the page the form was on, not its action
                    target = path_on_site(request.headers.get("referer", ""), str(request.base_url)) or target
                return sign_in_method(runtime).start(request, language, safe_next(target, HOME), status_code=401)
            except NotHr:
                language = get_language(request)
                title = gettext(language, "Only for HR")
                return message_page(request, language, title, [gettext(language, "Only HR may see this page.")], 403)

        return handler


# --- signing in ---------------------------------------------------------------------------------


class SignInMethod(Protocol):
    """How HR proves who they are. ``start`` shows a form or redirects to an identity provider;
    ``finish`` reads the form or the provider's answer."""

    def start(self, request: Request, language: str, next_url: str, status_code: int = 200) -> Response: ...

    async def finish(self, request: Request, runtime: Runtime, language: str) -> Response: ...


def signed_in_response(runtime: Runtime, principal: HrPrincipal, session_id: str, next_url: str) -> Response:
    response = RedirectResponse(safe_next(next_url, HOME), status_code=303)
    set_session_cookie(response, runtime, principal, session_id)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


class PasswordSignIn:
    """Email and password, checked against the argon2 hash. Every refusal (unknown address, wrong
    password, too many attempts) gets the one answer: same status, same page, same work done."""

    def start(
        self,
        request: Request,
        language: str,
        next_url: str,
        status_code: int = 200,
        error: str | None = None,
        email: str = "",
    ) -> Response:
        runtime: Runtime = request.app.state.runtime
        nonce = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        token = form_csrf(runtime.settings.secret(), FormPurpose.HR_SIGN_IN, nonce)
        response = page(
            request,
            "hr/login.html",
            {"next_url": next_url, "csrf_token": token, "error": error, "email": email},
            language,
            status_code,
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE, nonce, httponly=True, samesite="lax", secure=_secure(runtime), path=LOGIN_PATH
        )
        return response

    async def finish(self, request: Request, runtime: Runtime, language: str) -> Response:
        form: Mapping[str, Any] = await request.form()
        email = str(form.get("email", ""))[:254]
        password = str(form.get("password", ""))[:1024]
        next_url = safe_next(str(form.get("next", HOME)), HOME)
        nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not form_csrf_ok(runtime.settings.secret(), FormPurpose.HR_SIGN_IN, nonce, form.get("csrf_token")):
            return self.start(
                request, language, next_url, 403, gettext(language, "The form had expired. Try again."), email
            )
        # Checking the password hash takes tens of milliseconds of CPU on purpose: not on the event loop.
        result = await run_in_threadpool(sign_in, runtime, email, password, client_address(request))
        if result.outcome is SignInOutcome.OK and result.principal is not None:
            return signed_in_response(runtime, result.principal, result.session_id, next_url)
        message = gettext(language, "Wrong email or password, or too many tries: wait 15 minutes and try again.")
        return self.start(request, language, next_url, 401, message, email)


def sign_in_method(runtime: Runtime) -> SignInMethod:
    """The configured sign-in method; password sign-in until an OIDC method is configured."""
    return PasswordSignIn()


def login_href(next_url: str) -> str:
    return f"{LOGIN_PATH}?next={quote(next_url)}"
