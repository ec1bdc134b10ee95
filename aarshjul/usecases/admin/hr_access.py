"""HR access: passwords (argon2), sign-in limits, server-side sessions, API tokens stored as hashes.

Only HR people get passwords and tokens; everyone else works from task links, and may also sign in
through single sign-on (``single_sign_on``) to see their own tasks. A sign-in or a token names a
person; ``HrPrincipal`` is what the web edge keeps. Every sign-in method ends in the same server-side
session (``open_session``) and the same principal, so nothing past ``service/auth.py`` cares how
someone signed in. Whether a session may use HR's pages is fixed when it starts (``HrGrant``).
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
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import ApiToken, HrCredential, HrSession, Person, Unit
from aarshjul.domain.addresses import is_deliverable, normalise_email
from aarshjul.domain.enums import HrGrant, Role, SignedInVia
from aarshjul.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from aarshjul.runtime import Runtime
from aarshjul.signing import HR_SESSION_MAX_AGE
from aarshjul.usecases.shared.limits import Limit, count_hit, forget, hits, is_over
from aarshjul.usecases.shared.writes import audit

MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "ahr_"
DEMO_PASSWORD = "fjordvik-hr-demo"
#: A signed-in browser that has not been used for this long must sign in again.
IDLE_TIMEOUT = dt.timedelta(minutes=60)
#: How stale a session's or a token's last-used time may get before a request writes it again:
#: one write a minute at most, not one per request.
TOUCH_EVERY = dt.timedelta(minutes=1)
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366

# Failed sign-ins are counted three ways, each in the database so every process sees them. One
# address guessing one account is stopped soonest; many addresses against one account later, so a
# stranger cannot keep HR out with a handful of wrong passwords; one address against many accounts
# is limited too. A throttled attempt gets the same answer as a wrong password.
SIGN_IN_WINDOW = dt.timedelta(minutes=15)
PER_ACCOUNT_AND_ADDRESS = Limit("sign_in.account_address", 5, SIGN_IN_WINDOW)
PER_ADDRESS = Limit("sign_in.address", 20, SIGN_IN_WINDOW)
PER_ACCOUNT = Limit("sign_in.account", 50, SIGN_IN_WINDOW)

_hasher = PasswordHasher()
# Verifying against this when the email is unknown costs the same as a real check, so response
# time does not tell an attacker which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class HrPrincipal:
    """A signed-in person (by password, single sign-on or an API token); HR unless ``is_hr`` is false,
    which only a single sign-on session of someone who is not HR can be."""

    person_id: int
    email: str
    name: str
    via: str  #: "password", "oidc", "token"
    is_hr: bool = True

    @property
    def actor(self) -> str:
        return f"person:{self.person_id}"


class SignInOutcome(StrEnum):
    """What a password sign-in attempt came to. The web edge answers REFUSED and THROTTLED alike."""

    OK = "ok"
    REFUSED = "refused"  #: unknown email, wrong password, not HR
    THROTTLED = "throttled"  #: too many failures from this address or against this account


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    principal: HrPrincipal | None = None
    session_id: str = ""  #: the new session's random id, for the cookie


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _active_hr(session: Session, email: str, today: dt.date) -> Person | None:
    person = session.scalars(select(Person).where(Person.email == normalise_email(email))).first()
    if person is None or person.role != Role.HR or not person.is_active_on(today):
        return None
    return person


def _first_hr(session: Session, today: dt.date) -> Person | None:
    people = session.scalars(select(Person).where(Person.role == Role.HR).order_by(Person.id))
    return next((p for p in people if p.is_active_on(today)), None)


def _check_password_rule(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"use at least {MIN_PASSWORD_LENGTH} characters")


def set_password(runtime: Runtime, email: str, password: str, actor: str = "cli") -> None:
    """Give an HR person a (new) password; lifts their sign-in limits and ends their sessions."""
    _check_password_rule(password)
    new_hash = _hasher.hash(password)  # before the transaction: argon2 takes a while and holds no lock
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        person = _active_hr(session, email, local_date(now, runtime.settings.zone))
        if person is None:
            raise NotFound(f"no active HR person has the email {email}")
        _store_password(session, person, new_hash, now, actor)


def _store_password(session: Session, person: Person, new_hash: str, now: dt.datetime, actor: str) -> None:
    credential = session.get(HrCredential, person.id)
    had_password = credential is not None
    if credential is None:
        credential = HrCredential(person_id=person.id, password_hash=new_hash)
        session.add(credential)
    credential.password_hash = new_hash
    forget(session, PER_ACCOUNT, str(person.id))
    session.execute(
        update(HrSession).where(HrSession.person_id == person.id, HrSession.ended_at.is_(None)).values(ended_at=now)
    )
    audit(
        session,
        now,
        actor,
        "hr.password_set",
        "person",
        person.id,
        before={"had_password": had_password},
        after={"sessions_ended": True},
    )


def add_hr_person(
    runtime: Runtime, email: str, name: str, password: str, unit_code: str | None = None, actor: str = "cli"
) -> int:
    """Add an HR person with a password (``aarshjul hr add``), in the top unit unless a unit is named.

    An existing person is not changed into HR here: their role comes from the organisation file."""
    _check_password_rule(password)
    address = normalise_email(email)
    if not is_deliverable(address):
        raise InvalidInput("email", f"{email!r} is not an email address mail can be sent to")
    new_hash = _hasher.hash(password)
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        if session.scalars(select(Person.id).where(Person.email == address)).first() is not None:
            raise Conflict(f"{address} is in the organisation already; use 'aarshjul hr set-password' for HR people")
        query = select(Unit).where(Unit.active.is_(True))
        query = query.where(Unit.code == unit_code) if unit_code else query.where(Unit.parent_id.is_(None))
        unit = session.scalars(query.order_by(Unit.id)).first()
        if unit is None:
            raise NotFound(f"no unit with the code {unit_code}" if unit_code else "import the organisation first")
        person = Person(
            organisation_id=unit.organisation_id,
            name=name.strip() or address,
            email=address,
            unit_id=unit.id,
            role=Role.HR,
            language=runtime.settings.default_language,
        )
        session.add(person)
        session.flush()
        audit(session, now, actor, "hr.person_added", "person", person.id, after={"unit": unit.code})
        _store_password(session, person, new_hash, now, actor)
        return person.id


def sign_in(runtime: Runtime, email: str, password: str, client_address: str) -> SignInResult:
    """Check a password, and open a session when it is right and no limit is reached.

    The stored hash is read in one short transaction, argon2 runs outside any transaction, and the
    outcome is written in a second one, so twelve guesses at once hold no lock while they hash.
    Every refusal costs one argon2 check, whatever its reason. Failures count towards the limits;
    only reaching a limit is written to the audit log, so failures cannot fill it."""
    if not runtime.settings.local_passwords:
        raise Forbidden("local passwords are switched off (AARSHJUL_LOCAL_PASSWORDS=false)")
    now = runtime.clock()
    today = local_date(now, runtime.settings.zone)
    with runtime.sessions() as session:
        person = _active_hr(session, email, today)
        credential = session.get(HrCredential, person.id) if person is not None else None
        stored_hash = credential.password_hash if credential is not None else None
        account = str(person.id) if person is not None else None
        principal = HrPrincipal(person.id, person.email, person.name, "password") if person is not None else None
        throttled = is_over(session, PER_ADDRESS, client_address, now) or (
            account is not None
            and (
                is_over(session, PER_ACCOUNT, account, now)
                or is_over(session, PER_ACCOUNT_AND_ADDRESS, f"{account} {client_address}", now)
            )
        )
    matches = _verify(stored_hash or _DUMMY_HASH, password)
    if matches and stored_hash is not None and principal is not None and not throttled:
        rehashed = _hasher.hash(password) if _hasher.check_needs_rehash(stored_hash) else None
        return _signed_in(runtime, principal, stored_hash, rehashed, client_address, now)
    with unit_of_work(runtime.sessions) as session:
        reached = _count_failure(session, PER_ADDRESS, client_address, now)
        if account is not None:
            reached += _count_failure(session, PER_ACCOUNT, account, now)
            reached += _count_failure(session, PER_ACCOUNT_AND_ADDRESS, f"{account} {client_address}", now)
        if reached:
            audit(session, now, "anonymous", "hr.sign_in_throttled", "person", account or "", after={"limits": reached})
    return SignInResult(SignInOutcome.THROTTLED if throttled else SignInOutcome.REFUSED)


def _count_failure(session: Session, limit: Limit, key: str, now: dt.datetime) -> list[str]:
    """Count a failure; the limit's name when this failure is the one that reaches it."""
    count_hit(session, limit, key, now)
    return [limit.scope] if hits(session, limit, key, now) == limit.allowed else []


def _signed_in(
    runtime: Runtime,
    principal: HrPrincipal,
    checked_hash: str,
    rehashed: str | None,
    client_address: str,
    now: dt.datetime,
) -> SignInResult:
    with unit_of_work(runtime.sessions) as session:
        if rehashed is not None:  # only if the password was not changed meanwhile
            session.execute(
                update(HrCredential)
                .where(HrCredential.person_id == principal.person_id, HrCredential.password_hash == checked_hash)
                .values(password_hash=rehashed)
            )
        forget(session, PER_ACCOUNT_AND_ADDRESS, f"{principal.person_id} {client_address}")
        session_id = open_session(session, principal.person_id, now, SignedInVia.PASSWORD, HrGrant.ROLE)
        audit(session, now, principal.actor, "hr.sign_in", "person", principal.person_id)
    return SignInResult(SignInOutcome.OK, principal, session_id)


def open_session(session: Session, person_id: int, now: dt.datetime, via: SignedInVia, grant: HrGrant) -> str:
    """A new server-side session for a person; returns its random id, for the cookie (only its hash
    is stored). Every way of signing in ends here."""
    # Sessions past their longest life are of no use to anyone; dropping them keeps the table small.
    session.execute(delete(HrSession).where(HrSession.started_at < now - HR_SESSION_MAX_AGE))
    session_id = secrets.token_urlsafe(32)
    session.add(
        HrSession(
            id_hash=hash_token(session_id),
            person_id=person_id,
            started_at=now,
            last_seen_at=now,
            ended_at=None,
            via=via,
            hr_grant=grant,
        )
    )
    return session_id


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class SessionCheck:
    principal: HrPrincipal
    stale: bool  #: the last-used time should be written again (``touch_session``)


def person_for_session(
    session: Session, person_id: int, session_id: str, now: dt.datetime, today: dt.date
) -> SessionCheck | None:
    """The person a session cookie names, if the session is open, not idle for too long, and the
    person still active; the principal says whether they may use HR's pages now: a session granted
    HR by the organisation's data ends its HR rights when that data no longer says HR."""
    row = session.execute(
        select(Person, HrSession.last_seen_at, HrSession.via, HrSession.hr_grant)
        .join(HrSession, HrSession.person_id == Person.id)
        .where(
            HrSession.id_hash == hash_token(session_id),
            HrSession.person_id == person_id,
            HrSession.ended_at.is_(None),
            HrSession.started_at > now - HR_SESSION_MAX_AGE,
        )
    ).first()
    if row is None:
        return None
    person, last_seen, via, grant = row
    if last_seen + IDLE_TIMEOUT <= now or not person.is_active_on(today):
        return None
    is_hr = grant is HrGrant.GROUP or (grant is HrGrant.ROLE and person.role == Role.HR)
    if via is SignedInVia.PASSWORD and not is_hr:  # a password is HR's alone: no longer HR, no session
        return None
    principal = HrPrincipal(person.id, person.email, person.name, via.value, is_hr)
    return SessionCheck(principal, last_seen + TOUCH_EVERY <= now)


def principal_for_session(
    session: Session, person_id: int, session_id: str, now: dt.datetime, today: dt.date
) -> SessionCheck | None:
    """The HR person a session cookie names, if the session is open, not idle for too long, and the
    person is (still) HR."""
    found = person_for_session(session, person_id, session_id, now, today)
    return found if found is not None and found.principal.is_hr else None


def touch_session(runtime: Runtime, session_id: str) -> None:
    """Note that a session is in use (it idles out ``IDLE_TIMEOUT`` after the last time)."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        session.execute(
            update(HrSession)
            .where(HrSession.id_hash == hash_token(session_id), HrSession.ended_at.is_(None))
            .values(last_seen_at=now)
        )


def end_session(runtime: Runtime, principal: HrPrincipal, session_id: str) -> None:
    """Sign out: the session ends on the server, so its cookie is refused from now on wherever it is."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        session.execute(
            update(HrSession)
            .where(HrSession.id_hash == hash_token(session_id), HrSession.person_id == principal.person_id)
            .values(ended_at=now)
        )
        audit(session, now, principal.actor, "hr.sign_out", "person", principal.person_id)


@dataclass(frozen=True)
class TokenCheck:
    principal: HrPrincipal
    token_id: int
    stale: bool  #: the last-used time should be written again (``touch_api_token``)


def principal_for_token(session: Session, token: str, now: dt.datetime, today: dt.date) -> TokenCheck:
    """The person an API token belongs to. Raises Forbidden for a token of someone who is not HR,
    and NotFound for an unknown, revoked or expired token (the edge answers 401)."""
    row = session.execute(
        select(Person, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.person_id == Person.id)
        .where(
            ApiToken.token_hash == hash_token(token.strip()),
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
    ).first()
    if row is None:
        raise NotFound("unknown, revoked or expired token")
    person, token_id, last_used = row
    if person.role != Role.HR or not person.is_active_on(today):
        raise Forbidden("this token does not belong to an active HR person")
    stale = last_used is None or last_used + TOUCH_EVERY <= now
    return TokenCheck(HrPrincipal(person.id, person.email, person.name, "token"), token_id, stale)


def touch_api_token(runtime: Runtime, token_id: int) -> None:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def issue_api_token(
    runtime: Runtime,
    email: str | None = None,
    label: str = "cli",
    actor: str = "cli",
    days: int = DEFAULT_TOKEN_DAYS,
) -> str:
    """A new API token for an HR person (the first HR person when no email is given), good for
    ``days`` days.

    Only its SHA-256 is stored: the token is random (256 bits), so a slow hash adds nothing, and a
    database leak does not leak usable tokens.
    """
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidInput("days", f"a token lasts from 1 to {MAX_TOKEN_DAYS} days")
    now = runtime.clock()
    today = local_date(now, runtime.settings.zone)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + dt.timedelta(days=days)
    with unit_of_work(runtime.sessions) as session:
        person = _active_hr(session, email, today) if email else _first_hr(session, today)
        if person is None:
            raise NotFound(f"no active HR person has the email {email}" if email else "no active HR person exists")
        record = ApiToken(
            person_id=person.id,
            token_hash=hash_token(token),
            label=label[:200],
            created_at=now,
            expires_at=expires_at,
        )
        session.add(record)
        session.flush()
        audit(
            session,
            now,
            actor,
            "hr.token_issued",
            "api_token",
            record.id,
            after={"person_id": person.id, "label": label, "expires_at": expires_at.isoformat()},
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
        session.add(
            ApiToken(
                person_id=person.id,
                token_hash=hash_token(token),
                label=label,
                created_at=now,
                expires_at=now + dt.timedelta(days=DEFAULT_TOKEN_DAYS),
            )
        )
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
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None


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
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
        )
        for t, name in rows
    ]


def ensure_demo_hr_password(runtime: Runtime) -> tuple[str, str | None]:
    """In demo mode the first HR person signs in with a known password, set if they have none.
    Returns their email and the demo password, or None for it once they have chosen their own."""
    if not runtime.settings.demo:
        raise Conflict("the demo password is only set in demo mode")
    today = local_date(runtime.clock(), runtime.settings.zone)
    with runtime.sessions() as session:
        person = _first_hr(session, today)
        if person is None:
            raise NotFound("the demo organisation has no HR person")
        email = person.email
        credential = session.get(HrCredential, person.id)
    if credential is None:
        set_password(runtime, email, DEMO_PASSWORD, actor="demo")
        return email, DEMO_PASSWORD
    return email, DEMO_PASSWORD if _verify(credential.password_hash, DEMO_PASSWORD) else None
