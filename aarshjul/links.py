"""Signed task links: ``{base_url}/t/{token}``.

The token carries the task id, the assignee id and the task's link version, signed with HMAC-SHA256
(the full 256-bit tag, so forging one is out of reach). Nothing secret is stored: raising the task's
``link_version`` (reassignment, revocation) makes every earlier link invalid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkClaims:
    task_id: int
    assignee_id: int
    link_version: int


class BadLink(Exception):
    """The token is malformed or its signature does not match."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), b"task-link:" + payload.encode(), hashlib.sha256).digest()


def make_token(secret: str, claims: LinkClaims) -> str:
    payload = f"{claims.task_id}.{claims.assignee_id}.{claims.link_version}"
    return f"{payload}.{_b64(_tag(secret, payload))}"


def read_token(secret: str, token: str) -> LinkClaims:
    parts = token.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]) or len(token) > 200:
        raise BadLink("malformed")
    payload = ".".join(parts[:3])
    try:
        given = _unb64(parts[3])
    except (ValueError, TypeError) as exc:
        raise BadLink("malformed") from exc
    if not hmac.compare_digest(given, _tag(secret, payload)):
        raise BadLink("signature")
    return LinkClaims(int(parts[0]), int(parts[1]), int(parts[2]))


def task_url(base_url: str, secret: str, claims: LinkClaims) -> str:
    return f"{base_url.rstrip('/')}/t/{make_token(secret, claims)}"
