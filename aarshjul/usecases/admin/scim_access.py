"""Bearer tokens of SCIM clients (Entra ID's "Secret Token"): made by ``aarshjul scim token``, stored as
their SHA-256 like HR's API tokens, listed and revoked by id. A token belongs to no person: it lets its
holder provision the organisation and nothing else (the HR API refuses it, and HR's tokens are refused here).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import ScimToken
from aarshjul.domain.errors import Conflict, NotFound
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import hash_token
from aarshjul.usecases.shared.writes import audit

TOKEN_PREFIX = "ascim_"


@dataclass(frozen=True)
class ScimTokenInfo:
    id: int
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def scim_actor(token_id: int) -> str:
    """Who the audit log names for a SCIM request."""
    return f"scim:{token_id}"


def issue_scim_token(runtime: Runtime, label: str, actor: str) -> str:
    """A new SCIM token (256 random bits); only its hash is kept, so it is shown once."""
    now = runtime.clock()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work(runtime.sessions) as session:
        record = ScimToken(token_hash=hash_token(token), label=label[:200], created_at=now)
        session.add(record)
        session.flush()
        audit(session, now, actor, "scim.token_issued", "scim_token", record.id, after={"label": label[:200]})
    return token


def revoke_scim_token(runtime: Runtime, token_id: int, actor: str) -> None:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        record = session.scalars(select(ScimToken).where(ScimToken.id == token_id).with_for_update()).first()
        if record is None:
            raise NotFound(f"SCIM token {token_id} does not exist")
        if record.revoked_at is not None:
            raise Conflict(f"SCIM token {token_id} was revoked already")
        record.revoked_at = now
        audit(session, now, actor, "scim.token_revoked", "scim_token", record.id, after={"label": record.label})


def scim_tokens(session: Session) -> list[ScimTokenInfo]:
    """Every SCIM token, newest first (never their values)."""
    rows = session.scalars(select(ScimToken).order_by(ScimToken.id.desc()))
    return [ScimTokenInfo(t.id, t.label, t.created_at, t.revoked_at) for t in rows]


def scim_token_id(session: Session, token: str) -> int:
    """The id of a live SCIM token; NotFound for an unknown or revoked one (the edge answers 401)."""
    found = session.scalar(
        select(ScimToken.id).where(ScimToken.token_hash == hash_token(token.strip()), ScimToken.revoked_at.is_(None))
    )
    if found is None:
        raise NotFound("unknown or revoked SCIM token")
    return found
