"""HR access: passwords (argon2), lock-out after repeated failures, API tokens stored as hashes.

Only HR people get credentials; everyone else works from task links. A sign-in or a token names a
person; ``HrPrincipal`` is what the web edge keeps. Other sign-in methods (OIDC) end in the same
principal, so nothing past ``service/auth.py`` cares how HR signed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import ApiToken, HrCredential, Person
from aarshjul.domain.enums import Role
from aarshjul.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from aarshjul.runtime import Runtime
from aarshjul.signing import tokens_equal
from aarshjul.usecases.shared.writes import audit

MAX_FAILED_ATTEMPTS = 5
LOCK_MINUTES = 15
MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "ahr_"
DEMO_PASSWORD = "fjordvik-hr-demo"

_hasher = PasswordHasher()
# Verifying against this when the email is unknown costs the same as a real check, so response
# time does not tell an attacker which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class HrPrincipal:
    """A signed-in HR person (by password session, token, or a later OIDC sign-in)."""

    person_id: int
    email: str
    name: str
    via: str  #: "password", "token"

    @property
    def actor(self) -> str:
        return f"person:{self.person_id}"


class SignInOutcome(StrEnum):
    """What a password sign-in attempt came to."""

    OK = "ok"
    REFUSED = "refused"  #: unknown email, wrong password, not HR: one answer for all, on purpose
    LOCKED = "locked"  #: too many failures; wait until ``locked_until``


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    principal: HrPrincipal | None = None
    locked_until: dt.datetime | None = None
    credential_stamp: str = ""  #: changes when the password changes; sessions carry it


def credential_stamp(password_hash: str) -> str:
    """A short fingerprint of the stored hash: a password change ends every earlier session."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _active_hr(session: Session, email: str, today: dt.date) -> Person | None:
    person = session.scalars(select(Person).where(Person.email == email.strip().lower())).first()
    if person is None or person.role != Role.HR or not person.is_active_on(today):
        return None
    return person


def _first_hr(session: Session, today: dt.date) -> Person | None:
    people = session.scalars(select(Person).where(Person.role == Role.HR).order_by(Person.id))
    return next((p for p in people if p.is_active_on(today)), None)


def set_password(runtime: Runtime, email: str, password: str, actor: str = "cli") -> None:
    """Give an HR person a (new) password; unlocks the account and ends earlier sessions."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"use at least {MIN_PASSWORD_LENGTH} characters")
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        person = _active_hr(session, email, local_date(now, runtime.settings.zone))
        if person is None:
            raise NotFound(f"no active HR person has the email {email}")
        credential = session.get(HrCredential, person.id)
        had_password = credential is not None
        if credential is None:
            credential = HrCredential(person_id=person.id, password_hash="", failed_attempts=0)
            session.add(credential)
        credential.password_hash = _hasher.hash(password)
        credential.failed_attempts = 0
        credential.locked_until = None
        audit(
            session,
            now,
            actor,
            "hr.password_set",
            "person",
            person.id,
            before={"had_password": had_password},
            after={"unlocked": True},
        )


def sign_in(runtime: Runtime, email: str, password: str) -> SignInResult:
    """Check a password. Failures are counted (and committed); the fifth in a row locks the account."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        person = _active_hr(session, email, local_date(now, runtime.settings.zone))
        credential = session.get(HrCredential, person.id) if person is not None else None
        if person is None or credential is None:
            _verify(_DUMMY_HASH, password)
            audit(session, now, "anonymous", "hr.sign_in_refused", "email", email.strip().lower()[:64])
            return SignInResult(SignInOutcome.REFUSED)
        if credential.locked_until is not None and credential.locked_until > now:
            audit(session, now, "anonymous", "hr.sign_in_locked", "person", person.id)
            return SignInResult(SignInOutcome.LOCKED, locked_until=credential.locked_until)
        if not _verify(credential.password_hash, password):
            credential.failed_attempts += 1
            locked = credential.failed_attempts >= MAX_FAILED_ATTEMPTS
            if locked:
                credential.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                credential.failed_attempts = 0
            audit(
                session,
                now,
                "anonymous",
                "hr.lock_out" if locked else "hr.sign_in_failed",
                "person",
                person.id,
                after={
                    "locked_until": credential.locked_until.isoformat() if locked and credential.locked_until else None
                },
            )
            if locked:
                return SignInResult(SignInOutcome.LOCKED, locked_until=credential.locked_until)
            return SignInResult(SignInOutcome.REFUSED)
        if _hasher.check_needs_rehash(credential.password_hash):
            credential.password_hash = _hasher.hash(password)
        credential.failed_attempts = 0
        credential.locked_until = None
        principal = HrPrincipal(person.id, person.email, person.name, "password")
        audit(session, now, principal.actor, "hr.sign_in", "person", person.id)
        return SignInResult(SignInOutcome.OK, principal, credential_stamp=credential_stamp(credential.password_hash))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def principal_for_session(session: Session, person_id: int, stamp: str, today: dt.date) -> HrPrincipal | None:
    """The HR person a session cookie names, if they are still HR and the password is unchanged."""
    row = session.execute(
        select(Person, HrCredential.password_hash)
        .join(HrCredential, HrCredential.person_id == Person.id)
        .where(Person.id == person_id)
    ).first()
    if row is None:
        return None
    person, password_hash = row
    if person.role != Role.HR or not person.is_active_on(today):
        return None
    if not tokens_equal(stamp, credential_stamp(password_hash)):
        return None
    return HrPrincipal(person.id, person.email, person.name, "password")


def principal_for_token(session: Session, token: str, today: dt.date) -> HrPrincipal:
    """The person an API token belongs to. Raises Forbidden for a token of someone who is not HR,
    and NotFound for an unknown or revoked token (the edge answers 401)."""
    row = session.execute(
        select(Person)
        .join(ApiToken, ApiToken.person_id == Person.id)
        .where(ApiToken.token_hash == hash_token(token.strip()), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        raise NotFound("unknown or revoked token")
    person = row[0]
    if person.role != Role.HR or not person.is_active_on(today):
        raise Forbidden("this token does not belong to an active HR person")
    return HrPrincipal(person.id, person.email, person.name, "token")


def issue_api_token(runtime: Runtime, email: str | None = None, label: str = "cli", actor: str = "cli") -> str:
    """A new API token for an HR person (the first HR person when no email is given).

    Only its SHA-256 is stored: the token is random (256 bits), so a slow hash adds nothing, and a
    database leak does not leak usable tokens.
    """
    now = runtime.clock()
    today = local_date(now, runtime.settings.zone)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work(runtime.sessions) as session:
        person = _active_hr(session, email, today) if email else _first_hr(session, today)
        if person is None:
            raise NotFound(f"no active HR person has the email {email}" if email else "no active HR person exists")
        record = ApiToken(person_id=person.id, token_hash=hash_token(token), label=label[:200], created_at=now)
        session.add(record)
        session.flush()
        audit(
            session,
            now,
            actor,
            "hr.token_issued",
            "api_token",
            record.id,
            after={"person_id": person.id, "label": label},
        )
    return token


def issue_token_for_any_person(runtime: Runtime, email: str, label: str = "test") -> str:
    """A token for any person, HR or not; lets tests and operators check that non-HR tokens are refused."""
    now = runtime.clock()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work(runtime.sessions) as session:
        person = session.scalars(select(Person).where(Person.email == email.strip().lower())).first()
        if person is None:
            raise NotFound(f"no person has the email {email}")
        session.add(ApiToken(person_id=person.id, token_hash=hash_token(token), label=label, created_at=now))
    return token


def revoke_api_token(runtime: Runtime, token: str, actor: str) -> None:
    """Revoke a token by its value (whoever holds it can end it)."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        record = session.scalars(
            select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip())).with_for_update()
        ).first()
        if record is None or record.revoked_at is not None:
            raise Conflict("the token is unknown or already revoked")
        _revoke(session, record, now, actor)


def revoke_api_token_by_id(runtime: Runtime, token_id: int, actor: str) -> None:
    """Revoke a token by its id (``aarshjul hr token --revoke ID``, ``DELETE /api/tokens/{id}``), for
    a token that is lost or whose holder has left. Raises NotFound for an unknown id and Conflict for
    a token already revoked. Calls already under way finish; every later call is refused."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        record = session.scalars(select(ApiToken).where(ApiToken.id == token_id).with_for_update()).first()
        if record is None:
            raise NotFound(f"API token {token_id} does not exist")
        if record.revoked_at is not None:
            raise Conflict(f"API token {token_id} was revoked already")
        _revoke(session, record, now, actor)


def _revoke(session: Session, record: ApiToken, now: dt.datetime, actor: str) -> None:
    before = {"revoked_at": None, "person_id": record.person_id, "label": record.label}
    record.revoked_at = now
    audit(
        session,
        now,
        actor,
        "hr.token_revoked",
        "api_token",
        record.id,
        before=before,
        after={**before, "revoked_at": now.isoformat()},
    )


class ApiTokenInfo(BaseModel):
    """What HR may know of a token: never its value, which is shown once when it is made."""

    model_config = ConfigDict(frozen=True)
    id: int
    person_id: int
    person_name: str
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def api_tokens(session: Session) -> list[ApiTokenInfo]:
    """Every API token, newest first, so HR can find the one to revoke."""
    rows = session.execute(
        select(ApiToken, Person.name).join(Person, Person.id == ApiToken.person_id).order_by(ApiToken.id.desc())
    )
    return [
        ApiTokenInfo(
            id=t.id,
            person_id=t.person_id,
            person_name=name,
            label=t.label,
            created_at=t.created_at,
            revoked_at=t.revoked_at,
        )
        for t, name in rows
    ]


def record_sign_out(runtime: Runtime, principal: HrPrincipal) -> None:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        audit(session, now, principal.actor, "hr.sign_out", "person", principal.person_id)


def ensure_demo_hr_password(runtime: Runtime) -> tuple[str, str]:
    """In demo mode the first HR person signs in with a known password; set it if they have none."""
    if not runtime.settings.demo:
        raise Conflict("the demo password is only set in demo mode")
    today = local_date(runtime.clock(), runtime.settings.zone)
    with runtime.sessions() as session:
        person = _first_hr(session, today)
        if person is None:
            raise NotFound("the demo organisation has no HR person")
        email = person.email
        credential = session.get(HrCredential, person.id)
        known = credential is not None and _verify(credential.password_hash, DEMO_PASSWORD)
    if not known:
        set_password(runtime, email, DEMO_PASSWORD, actor="demo")
    return email, DEMO_PASSWORD
