"""Single sign-on through the organisation's OpenID Provider (Microsoft Entra ID or any other).

``/hr/oidc/login`` starts the authorization code flow with PKCE (S256), state and nonce, made by
Authlib from the provider's discovery document; what the callback needs to check the answer (state,
nonce, code verifier, where to go after) rides in a short-lived signed cookie (``aarshjul.signing``),
so the server keeps nothing for sign-ins never finished. ``/hr/oidc/callback`` checks the state
against that cookie, the RFC 9207 ``iss`` parameter when the provider sends it, redeems the code with
the verifier and the client secret, and checks the ID token: signature against the provider's keys,
issuer, audience (exactly our client id: Authlib alone would accept a foreign audience whose ``azp``
is ours), expiry and the nonce. Any of these failing is the person's or an attacker's problem, not the
service's: a 400 page that says to start again, and a log line that names the check, never a token.

The checked token's claims go to ``sign_in_with_provider``, which matches the person and opens the
same server-side session a password opens. HR lands on the board, everyone else on "my tasks".
"""

from __future__ import annotations

import hmac
import logging
from functools import cache
from typing import Annotated, Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from joserfc.errors import JoseError
from starlette.concurrency import run_in_threadpool

from aarshjul.presentation.i18n import gettext
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.signing import (
    OIDC_MAX_NEXT_LENGTH,
    OIDC_TRANSACTION_MAX_AGE,
    BadToken,
    OidcTransaction,
    oidc_transaction_token,
    read_oidc_transaction_token,
    tokens_equal,
)
from aarshjul.usecases.admin.single_sign_on import ProviderIdentity, SsoRefusal, SsoRefused, sign_in_with_provider
from service.auth import HOME, LOGIN_PATH, MY_TASKS, PROVIDER_SIGN_IN, signed_in_response
from service.deps import LanguageDep, RuntimeDep
from service.pages import message_page
from service.redirects import safe_next

logger = logging.getLogger(__name__)

router = APIRouter()

CALLBACK = "/hr/oidc/callback"
TRANSACTION_COOKIE = "aarshjul_oidc"
#: Clocks differ a little between the provider and us; a token this far past its expiry is refused.
LEEWAY_SECONDS = 30


@cache
def _client(issuer: str, client_id: str, client_secret: str, scopes: str) -> StarletteOAuth2App:
    """One Authlib client per provider setting; it reads the discovery document once and keeps it."""
    oauth = OAuth()
    client = oauth.register(
        name="provider",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": scopes, "code_challenge_method": "S256", "timeout": 15},
    )
    assert isinstance(client, StarletteOAuth2App)
    return client


def provider_client(settings: Settings) -> StarletteOAuth2App | None:
    if not settings.oidc_enabled or settings.oidc_client_secret is None:
        return None
    return _client(
        settings.oidc_issuer or "",
        settings.oidc_client_id or "",
        settings.oidc_client_secret.get_secret_value(),
        settings.oidc_scopes,
    )


def _callback_url(runtime: Runtime) -> str:
    return runtime.settings.base_url + CALLBACK


def _not_set_up(request: Request, language: str) -> Response:
    title = gettext(language, "Single sign-on is not set up")
    return message_page(request, language, title, [gettext(language, "Sign in with your password instead.")], 404)


def _unavailable(request: Request, language: str) -> Response:
    title = gettext(language, "The sign-in service did not answer")
    text = gettext(language, "Try again in a few minutes. If it goes on, tell IT.")
    return message_page(request, language, title, [text], 502, LOGIN_PATH, gettext(language, "Back to sign-in"))


def _refused(request: Request, language: str, check: str) -> Response:
    """The one answer to a sign-in that failed a check: start again. The log names the check only."""
    logger.warning("single sign-on refused: %s", check)
    title = gettext(language, "The sign-in did not go through")
    text = gettext(
        language,
        "The answer from the sign-in service could not be accepted: it may have taken too long, or come "
        "from another window. Nothing was changed. Start the sign-in again.",
    )
    response = message_page(request, language, title, [text], 400, LOGIN_PATH, gettext(language, "Sign in again"))
    response.delete_cookie(TRANSACTION_COOKIE, path="/hr/oidc")
    return response


#: What a person whose account is fine at the provider but who cannot sign in here reads.
_NOT_MATCHED = {
    SsoRefusal.UNKNOWN_PERSON: "Årshjul has no one with this account. Ask HR to check that you are in the "
    "organisation with the email address of your work account.",
    SsoRefusal.EMAIL_NOT_VERIFIED: "Your account's email address is not verified, so Årshjul cannot tell who "
    "you are. Ask IT.",
    SsoRefusal.LINKED_TO_ANOTHER_ACCOUNT: "Your email address belongs to a person in Årshjul who signs in with "
    "another account. Ask HR.",
}


@router.get(PROVIDER_SIGN_IN, include_in_schema=False)
async def start(
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    next_url: Annotated[str, Query(alias="next", max_length=2048)] = "",
) -> Response:
    client = provider_client(runtime.settings)
    if client is None:
        return _not_set_up(request, language)
    target = next_url if next_url and len(next_url) <= OIDC_MAX_NEXT_LENGTH else ""
    target = safe_next(target, HOME) if target else ""
    try:
        made = await client.create_authorization_url(_callback_url(runtime), ui_locales=language)
    except (httpx.HTTPError, OAuthError, ValueError) as exc:
        logger.warning("the identity provider's discovery failed: %s", type(exc).__name__)
        return _unavailable(request, language)
    transaction = OidcTransaction(made["state"], made["nonce"], made["code_verifier"], target)
    value = oidc_transaction_token(runtime.settings.secret(), transaction, runtime.clock())
    response = RedirectResponse(made["url"], status_code=303)
    # Lax, not Strict: the provider's answer is a top-level navigation from its site to ours.
    response.set_cookie(
        TRANSACTION_COOKIE,
        value,
        max_age=int(OIDC_TRANSACTION_MAX_AGE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=runtime.settings.base_url.startswith("https://"),
        path="/hr/oidc",
    )
    return response


def _identity(runtime: Runtime, claims: dict[str, Any]) -> ProviderIdentity:
    groups = claims.get(runtime.settings.oidc_groups_claim)
    email = claims.get("email")
    verified = claims.get("email_verified")
    return ProviderIdentity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) else None,
        email_verified=verified if isinstance(verified, bool) else None,
        groups=frozenset(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else frozenset(),
    )


@router.get(CALLBACK, include_in_schema=False)
async def callback(request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    settings = runtime.settings
    client = provider_client(settings)
    if client is None:
        return _not_set_up(request, language)
    query = request.query_params
    if "error" in query:  # cancelled, or the provider refused: its own words are not shown
        return _refused(request, language, f"provider answered {query.get('error', '')[:64]!r}")
    try:
        transaction = read_oidc_transaction_token(
            settings.secret(), request.cookies.get(TRANSACTION_COOKIE, ""), runtime.clock()
        )
    except BadToken:
        return _refused(request, language, "no, expired or tampered transaction cookie")
    if not tokens_equal(query.get("state", ""), transaction.state):
        return _refused(request, language, "state")
    issuer = query.get("iss")
    if issuer is not None and not hmac.compare_digest(issuer.encode(), (settings.oidc_issuer or "").encode()):
        return _refused(request, language, "iss parameter")
    try:
        token = await client.fetch_access_token(
            redirect_uri=_callback_url(runtime), code=query.get("code", ""), code_verifier=transaction.code_verifier
        )
        claims = await client.parse_id_token(
            token,
            nonce=transaction.nonce,
            claims_options={
                "iss": {"essential": True, "values": [settings.oidc_issuer]},
                "aud": {"essential": True, "values": [settings.oidc_client_id]},
                "sub": {"essential": True},
                "exp": {"essential": True},
            },
            leeway=LEEWAY_SECONDS,
        )
    except httpx.HTTPError as exc:
        logger.warning("the identity provider did not answer: %s", type(exc).__name__)
        return _unavailable(request, language)
    except (OAuthError, JoseError, ValueError) as exc:
        # The exception's class names the check (InvalidClaimError('aud'), ExpiredTokenError, ...);
        # its message never holds the token.
        return _refused(request, language, f"ID token or code: {type(exc).__name__} {getattr(exc, 'claim', '')}")
    if claims is None:
        return _refused(request, language, "no ID token")
    try:
        result = await run_in_threadpool(sign_in_with_provider, runtime, _identity(runtime, dict(claims)))
    except SsoRefused as exc:
        title = gettext(language, "You cannot sign in to Årshjul")
        refusal = message_page(request, language, title, [gettext(language, _NOT_MATCHED[exc.reason])], 403)
        refusal.delete_cookie(TRANSACTION_COOKIE, path="/hr/oidc")
        return refusal
    assert result.principal is not None
    landing = HOME if result.principal.is_hr else MY_TASKS
    response = signed_in_response(
        runtime, result.principal, result.session_id, safe_next(transaction.next_url or landing, landing)
    )
    response.delete_cookie(TRANSACTION_COOKIE, path="/hr/oidc")
    return response


async def provider_sign_out_url(runtime: Runtime) -> str | None:
    """The provider's end-session address (RP-initiated logout), if it has one, coming back to our sign-in."""
    client = provider_client(runtime.settings)
    if client is None:
        return None
    try:
        made = await client.create_logout_url(
            post_logout_redirect_uri=runtime.settings.base_url + LOGIN_PATH, client_id=runtime.settings.oidc_client_id
        )
    except (httpx.HTTPError, OAuthError, RuntimeError, ValueError):  # RuntimeError: no end_session_endpoint
        return None
    return str(made["url"])
