"""Every signed token the service hands out, in one place, on one library (itsdangerous).

Only HR signs in; everyone else works from emailed links, so these tokens are the credentials. Each
kind signs with its own salt (its ``Purpose``), so a token made for one purpose is refused for every
other, even though all share the one secret (``AARSHJUL_SECRET_KEY``):

- task link ``/t/{token}``: task id, assignee id, the task's link version. Nothing secret is stored;
  raising the task's ``link_version`` (reassignment, revocation) kills every earlier link.
- follow-up view ``/me/follow-ups/{token}``: the follow-up task and the employee it is about.
- personal-data export ``/me/data/{token}``: the person, when it was issued and a random nonce; it
  expires after ``EXPORT_LINK_LIFETIME`` and the use case spends it (records the nonce) on download.
- plan review ``/plan-review/{token}``: the reviewer and when they were invited; their row decides
  whether it still works (removed, expired).
- the HR session cookie: the person, the session's random id (the server keeps its hash: signing out,
  idling or a new password ends it), the session's CSRF value and when it was issued; it lasts
  ``HR_SESSION_MAX_AGE`` at most.

A token is ``{base64url(compact JSON list)}.{base64url(HMAC-SHA256)}`` (itsdangerous'
``URLSafeSerializer``, key derived by HMAC from the secret and the salt), so it is URL-safe and a few
dozen characters long. The payload is readable by its holder and holds nothing private: ids, times, a
nonce. Expiry is checked against the caller's ``now`` (the runtime's clock), not the wall clock.

CSRF tokens are bare signatures (``FormPurpose``) over the value the form is bound to: a random value
in a cookie for forms used before any session, the task and its link version for task forms, the
link for forms behind a link.

Every ``read_*`` and ``*_ok`` accepts any input (empty, huge, non-ASCII, lone surrogates, wrong
kind) and answers with ``BadToken`` or ``False``, never another exception.

No web framework here: notifications build links with it, and use cases read them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

from itsdangerous import BadData, Signer, URLSafeSerializer

#: No token we make comes near this; anything longer is refused before any work is done on it.
MAX_TOKEN_LENGTH = 512
EXPORT_LINK_LIFETIME = dt.timedelta(days=7)
HR_SESSION_MAX_AGE = dt.timedelta(hours=8)

# SHA-256 rather than itsdangerous' default SHA-1, and the key derived as HMAC(secret, salt).
_SIGNER_OPTIONS: dict[str, Any] = {"digest_method": hashlib.sha256, "key_derivation": "hmac"}


class Purpose(StrEnum):
    """The kinds of signed token; each is its own salt."""

    TASK_LINK = "task-link"
    FOLLOW_UP_VIEW = "follow-up-view"
    DATA_EXPORT = "data-export"
    PLAN_REVIEW = "plan-review"
    HR_SESSION = "hr-session"


class FormPurpose(StrEnum):
    """The forms that carry a CSRF token; each is its own salt."""

    TASK_FORM = "task-form"  #: bound to the task and its link version
    NEW_LINK = "new-link"  #: bound to a random cookie value
    DATA_REQUEST = "data-request"  #: bound to a random cookie value
    HR_SIGN_IN = "hr-sign-in"  #: bound to a random cookie value
    DATA_DOWNLOAD = "data-download"  #: bound to the export link
    PLAN_REVIEW_COMMENT = "plan-review-comment"  #: bound to the review link


class BadToken(Exception):
    """The token is not one we made for this purpose: malformed, tampered, of another kind, or expired."""


class ExpiredToken(BadToken):
    """The token is ours and of the right kind, but too old."""


# --- the claims each kind carries ------------------------------------------------------------------


@dataclass(frozen=True)
class TaskLinkClaims:
    task_id: int
    assignee_id: int
    link_version: int


@dataclass(frozen=True)
class FollowUpClaims:
    task_id: int
    subject_id: int


@dataclass(frozen=True)
class ExportClaims:
    person_id: int
    issued_at: dt.datetime
    nonce: str

    def expires_at(self) -> dt.datetime:
        return self.issued_at + EXPORT_LINK_LIFETIME


@dataclass(frozen=True)
class ReviewClaims:
    reviewer_id: int
    invited_at: int  #: Unix seconds, as stored on the reviewer's row


@dataclass(frozen=True)
class HrSessionClaims:
    person_id: int
    session_id: str  #: random; the server keeps its hash, so signing out or idling ends the session
    csrf: str  #: what every HR form and cookie-authenticated API call must echo


def new_nonce() -> str:
    return secrets.token_hex(8)


# --- the one mechanism -----------------------------------------------------------------------------


def _plausible(token: object) -> TypeGuard[str]:
    """Everything we make is short ASCII; this keeps other input away from the library, which would
    raise on text that does not encode (lone surrogates)."""
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii()


def _serializer(secret: str, purpose: Purpose) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"aarshjul.{purpose}", signer_kwargs=_SIGNER_OPTIONS)


def _dump(secret: str, purpose: Purpose, fields: list[int | str]) -> str:
    return _serializer(secret, purpose).dumps(fields)


def _load(secret: str, purpose: Purpose, token: object, shape: tuple[type, ...]) -> list[Any]:
    """The fields of a token of this purpose, each of exactly the type in ``shape``."""
    if not _plausible(token):
        raise BadToken("malformed")
    try:
        fields = _serializer(secret, purpose).loads(token)
    except BadData as exc:  # no separator, bad base64, wrong signature (or another purpose), bad payload
        raise BadToken("signature") from exc
    # Only we sign, so this fails only if the payload layout changed; ``type(...) is`` keeps out bools.
    if not isinstance(fields, list) or len(fields) != len(shape):
        raise BadToken("malformed")
    if any(type(value) is not kind for value, kind in zip(fields, shape, strict=True)):
        raise BadToken("malformed")
    return fields


def _url(base_url: str, path: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{path}/{token}"


def tokens_equal(given: object, expected: str) -> bool:
    """Constant-time comparison that answers for any input instead of raising (``hmac.compare_digest``
    raises on non-ASCII text)."""
    if not isinstance(given, str) or len(given) > MAX_TOKEN_LENGTH:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


# --- task links ----------------------------------------------------------------------------------


def task_token(secret: str, claims: TaskLinkClaims) -> str:
    return _dump(secret, Purpose.TASK_LINK, [claims.task_id, claims.assignee_id, claims.link_version])


def read_task_token(secret: str, token: object) -> TaskLinkClaims:
    task_id, assignee_id, link_version = _load(secret, Purpose.TASK_LINK, token, (int, int, int))
    return TaskLinkClaims(task_id, assignee_id, link_version)


def task_url(base_url: str, secret: str, claims: TaskLinkClaims) -> str:
    return _url(base_url, "/t", task_token(secret, claims))


# --- a person's own data -------------------------------------------------------------------------


def follow_up_token(secret: str, claims: FollowUpClaims) -> str:
    return _dump(secret, Purpose.FOLLOW_UP_VIEW, [claims.task_id, claims.subject_id])


def read_follow_up_token(secret: str, token: object) -> FollowUpClaims:
    task_id, subject_id = _load(secret, Purpose.FOLLOW_UP_VIEW, token, (int, int))
    return FollowUpClaims(task_id, subject_id)


def follow_up_url(base_url: str, secret: str, claims: FollowUpClaims) -> str:
    return _url(base_url, "/me/follow-ups", follow_up_token(secret, claims))


def export_token(secret: str, claims: ExportClaims) -> str:
    fields: list[int | str] = [claims.person_id, int(claims.issued_at.timestamp()), claims.nonce]
    return _dump(secret, Purpose.DATA_EXPORT, fields)


def read_export_token(secret: str, token: object, now: dt.datetime) -> ExportClaims:
    """Raises ``ExpiredToken`` once ``EXPORT_LINK_LIFETIME`` has passed, ``BadToken`` otherwise.
    Whether the link was already spent is for the caller to know (the recorded nonce)."""
    person_id, issued, nonce = _load(secret, Purpose.DATA_EXPORT, token, (int, int, str))
    claims = ExportClaims(person_id, dt.datetime.fromtimestamp(issued, dt.UTC), nonce)
    if claims.issued_at > now:
        raise BadToken("issued in the future")
    if claims.expires_at() <= now:
        raise ExpiredToken("export link expired")
    return claims


def export_url(base_url: str, secret: str, claims: ExportClaims) -> str:
    return _url(base_url, "/me/data", export_token(secret, claims))


# --- plan review ----------------------------------------------------------------------------------


def review_token(secret: str, claims: ReviewClaims) -> str:
    return _dump(secret, Purpose.PLAN_REVIEW, [claims.reviewer_id, claims.invited_at])


def read_review_token(secret: str, token: object) -> ReviewClaims:
    reviewer_id, invited_at = _load(secret, Purpose.PLAN_REVIEW, token, (int, int))
    return ReviewClaims(reviewer_id, invited_at)


def review_url(base_url: str, secret: str, claims: ReviewClaims) -> str:
    return _url(base_url, "/plan-review", review_token(secret, claims))


# --- the HR session cookie ------------------------------------------------------------------------


def hr_session_token(secret: str, claims: HrSessionClaims, now: dt.datetime) -> str:
    fields: list[int | str] = [claims.person_id, claims.session_id, claims.csrf, int(now.timestamp())]
    return _dump(secret, Purpose.HR_SESSION, fields)


def read_hr_session_token(secret: str, token: object, now: dt.datetime) -> HrSessionClaims:
    """Raises ``ExpiredToken`` once ``HR_SESSION_MAX_AGE`` has passed since sign-in, ``BadToken`` otherwise."""
    person_id, session_id, csrf, issued = _load(secret, Purpose.HR_SESSION, token, (int, str, str, int))
    if now - dt.datetime.fromtimestamp(issued, dt.UTC) >= HR_SESSION_MAX_AGE:
        raise ExpiredToken("session expired")
    return HrSessionClaims(person_id, session_id, csrf)


# --- CSRF tokens ----------------------------------------------------------------------------------


def _csrf_signer(secret: str, purpose: FormPurpose) -> Signer:
    return Signer(secret, salt=f"aarshjul.csrf.{purpose}", **_SIGNER_OPTIONS)


def _bound(value: str) -> bytes:
    # The bound value may be anything a client sent (a cookie, a link); this encoding never raises.
    return value.encode("utf-8", "surrogatepass")


def form_csrf(secret: str, purpose: FormPurpose, bound_to: str) -> str:
    """The CSRF token of a form with this purpose, bound to ``bound_to``."""
    return _csrf_signer(secret, purpose).get_signature(_bound(bound_to)).decode("ascii")


def form_csrf_ok(secret: str, purpose: FormPurpose, bound_to: str, given: object) -> bool:
    return (
        bool(bound_to) and _plausible(given) and _csrf_signer(secret, purpose).verify_signature(_bound(bound_to), given)
    )


def task_form_csrf(secret: str, claims: TaskLinkClaims) -> str:
    """Bound to the task and its link version: a new link makes pages opened with an old one stale."""
    return form_csrf(secret, FormPurpose.TASK_FORM, f"{claims.task_id}.{claims.link_version}")


def task_form_csrf_ok(secret: str, claims: TaskLinkClaims, given: object) -> bool:
    return form_csrf_ok(secret, FormPurpose.TASK_FORM, f"{claims.task_id}.{claims.link_version}", given)
