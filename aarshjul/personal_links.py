"""Signed links a person gets about their own data, apart from task links (``aarshjul.links``).

- ``/me/follow-ups/{token}``: the employee reads a follow-up their leader wrote about them. The
  token names the follow-up task and the employee; it is good as long as the follow-up exists.
- ``/me/data/{token}``: the export of everything stored about a person. The token names the person,
  when it was issued and a random nonce; it expires after ``EXPORT_LINK_LIFETIME`` and is spent by
  one download (the nonce is recorded when the export is made).
- ``/plan-review/{token}``: a reviewer HR invited (a union representative) reads the draft competence
  plan and comments on it. The token names the reviewer and when they were invited; the reviewer's
  row decides whether it still works (removed, or past its expiry).

Each kind of link signs with its own purpose prefix, so no token of one kind is accepted as another.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

EXPORT_LINK_LIFETIME = dt.timedelta(days=7)
_NONCE = re.compile(r"^[0-9a-f]{16}$")


class BadPersonalLink(Exception):
    """The token is malformed or its signature does not match."""


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


def new_nonce() -> str:
    return secrets.token_hex(8)


def _tag(secret: str, purpose: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _payload(secret: str, purpose: str, token: str, fields: int) -> list[str]:
    parts = token.split(".")
    if len(token) > 200 or len(parts) != fields + 1:
        raise BadPersonalLink("malformed")
    payload = ".".join(parts[:fields])
    if not hmac.compare_digest(parts[fields].encode(), _tag(secret, purpose, payload).encode()):
        raise BadPersonalLink("signature")
    return parts[:fields]


def follow_up_token(secret: str, claims: FollowUpClaims) -> str:
    payload = f"{claims.task_id}.{claims.subject_id}"
    return f"{payload}.{_tag(secret, 'follow-up-view', payload)}"


def read_follow_up_token(secret: str, token: str) -> FollowUpClaims:
    task_id, subject_id = _payload(secret, "follow-up-view", token, 2)
    if not (task_id.isdigit() and subject_id.isdigit()):
        raise BadPersonalLink("malformed")
    return FollowUpClaims(int(task_id), int(subject_id))


def export_token(secret: str, claims: ExportClaims) -> str:
    payload = f"{claims.person_id}.{int(claims.issued_at.timestamp())}.{claims.nonce}"
    return f"{payload}.{_tag(secret, 'data-export', payload)}"


def read_export_token(secret: str, token: str) -> ExportClaims:
    person_id, issued, nonce = _payload(secret, "data-export", token, 3)
    if not (person_id.isdigit() and issued.isdigit() and _NONCE.match(nonce)):
        raise BadPersonalLink("malformed")
    return ExportClaims(int(person_id), dt.datetime.fromtimestamp(int(issued), dt.UTC), nonce)


def follow_up_url(base_url: str, secret: str, claims: FollowUpClaims) -> str:
    return f"{base_url.rstrip('/')}/me/follow-ups/{follow_up_token(secret, claims)}"


def export_url(base_url: str, secret: str, claims: ExportClaims) -> str:
    return f"{base_url.rstrip('/')}/me/data/{export_token(secret, claims)}"


def review_token(secret: str, claims: ReviewClaims) -> str:
    payload = f"{claims.reviewer_id}.{claims.invited_at}"
    return f"{payload}.{_tag(secret, 'plan-review', payload)}"


def read_review_token(secret: str, token: str) -> ReviewClaims:
    reviewer_id, invited_at = _payload(secret, "plan-review", token, 2)
    if not (reviewer_id.isdigit() and invited_at.isdigit()):
        raise BadPersonalLink("malformed")
    return ReviewClaims(int(reviewer_id), int(invited_at))


def review_url(base_url: str, secret: str, claims: ReviewClaims) -> str:
    return f"{base_url.rstrip('/')}/plan-review/{review_token(secret, claims)}"
