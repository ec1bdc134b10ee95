"""HR access use cases: argon2 passwords, sign-in limits, server-side sessions, hashed API tokens with an
expiry, the demo password, adding HR on the command line."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from aarshjul.clock import ManualClock
from aarshjul.db.models import ApiToken, AuditEvent, HrCredential, HrSession, LimitCounter
from aarshjul.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import (
    DEMO_PASSWORD,
    IDLE_TIMEOUT,
    PER_ACCOUNT,
    PER_ACCOUNT_AND_ADDRESS,
    PER_ADDRESS,
    SignInOutcome,
    add_hr_person,
    end_session,
    ensure_demo_hr_password,
    issue_api_token,
    issue_token_for_any_person,
    principal_for_session,
    principal_for_token,
    revoke_api_token,
    set_password,
    sign_in,
    touch_session,
)
from aarshjul.usecases.admin.org_import import seed_demo
from tests.hr_support import HR_EMAIL, HR_PASSWORD, LEADER_EMAIL

TODAY = dt.date(2027, 1, 4)
HERE = "192.0.2.1"
NOW = dt.datetime(2027, 1, 4, 7, 0, tzinfo=dt.UTC)


def _sign_in(runtime: Runtime, email: str, password: str, address: str = HERE) -> SignInOutcome:
    return sign_in(runtime, email, password, address).outcome


@pytest.fixture
def demo(runtime: Runtime) -> Runtime:
    seed_demo(runtime)
    return runtime


def test_a_password_is_stored_as_an_argon2_hash_and_signs_in(demo: Runtime) -> None:
    set_password(demo, HR_EMAIL, HR_PASSWORD)
    with demo.sessions() as session:
        stored = session.scalars(select(HrCredential)).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert HR_PASSWORD not in stored.password_hash
    result = sign_in(demo, HR_EMAIL.upper(), HR_PASSWORD, HERE)
    assert result.outcome is SignInOutcome.OK
    assert result.principal is not None and result.principal.email == HR_EMAIL


def test_only_hr_people_get_passwords_and_short_ones_are_refused(demo: Runtime) -> None:
    with pytest.raises(NotFound):
        set_password(demo, LEADER_EMAIL, HR_PASSWORD)
    with pytest.raises(InvalidInput) as refused:
        set_password(demo, HR_EMAIL, "short")
    assert refused.value.field == "password"


def test_five_failures_from_one_address_throttle_that_address_for_fifteen_minutes(
    demo: Runtime, clock: ManualClock
) -> None:
    set_password(demo, HR_EMAIL, HR_PASSWORD)
    allowed = PER_ACCOUNT_AND_ADDRESS.allowed
    outcomes = [_sign_in(demo, HR_EMAIL, "wrong password!") for _ in range(allowed)]
    assert outcomes == [SignInOutcome.REFUSED] * allowed
    assert _sign_in(demo, HR_EMAIL, HR_PASSWORD) is SignInOutcome.THROTTLED  # even the right password
    # HR at another address is not kept out by a stranger's guesses.
    assert _sign_in(demo, HR_EMAIL, HR_PASSWORD, "198.51.100.7") is SignInOutcome.OK
    clock.advance(minutes=16)
    assert _sign_in(demo, HR_EMAIL, HR_PASSWORD) is SignInOutcome.OK
    with demo.sessions() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("hr."))))
    # Reaching the limit is recorded once; single failures are not written to the audit log.
    assert actions.count("hr.sign_in_throttled") == 1 and "hr.sign_in_failed" not in actions


def test_many_addresses_against_one_account_and_one_address_against_many_are_limited(demo: Runtime) -> None:
    set_password(demo, HR_EMAIL, HR_PASSWORD)
    for n in range(PER_ACCOUNT.allowed):
        assert _sign_in(demo, HR_EMAIL, "wrong password!", f"10.0.{n // 250}.{n % 250}") is SignInOutcome.REFUSED
    assert _sign_in(demo, HR_EMAIL, HR_PASSWORD, "203.0.113.9") is SignInOutcome.THROTTLED
    set_password(demo, HR_EMAIL, HR_PASSWORD)  # a new password lifts the account's limit
    assert _sign_in(demo, HR_EMAIL, HR_PASSWORD, "203.0.113.9") is SignInOutcome.OK
    for n in range(PER_ADDRESS.allowed):
        assert _sign_in(demo, f"nobody{n}@example.no", "x" * 12, "203.0.113.10") is SignInOutcome.REFUSED
    assert _sign_in(demo, HR_EMAIL, HR_PASSWORD, "203.0.113.10") is SignInOutcome.THROTTLED


def test_failures_are_counted_in_a_bounded_table(demo: Runtime, clock: ManualClock) -> None:
    """Unknown addresses are counted per client address only, and a counter lives one window."""
    for n in range(30):
        _sign_in(demo, f"nobody{n}@example.no", "x" * 12, f"10.1.0.{n}")
    with demo.sessions() as session:
        assert len(session.scalars(select(LimitCounter)).all()) == 30
    clock.advance(minutes=16)
    _sign_in(demo, "nobody@example.no", "x" * 12, "10.1.1.1")
    with demo.sessions() as session:
        assert len(session.scalars(select(LimitCounter)).all()) == 1
        kept = session.scalars(select(LimitCounter.key_hash)).one()
    assert len(kept) == 64 and "10.1" not in kept  # a hash, not the address


def test_unknown_email_and_wrong_password_get_the_same_answer(demo: Runtime) -> None:
    set_password(demo, HR_EMAIL, HR_PASSWORD)
    assert _sign_in(demo, "nobody@example.no", HR_PASSWORD) is SignInOutcome.REFUSED
    assert _sign_in(demo, HR_EMAIL, "not the password") is SignInOutcome.REFUSED


def test_signing_out_ends_the_session_on_the_server_and_an_idle_one_ends_by_itself(
    demo: Runtime, clock: ManualClock
) -> None:
    set_password(demo, HR_EMAIL, HR_PASSWORD)
    first = sign_in(demo, HR_EMAIL, HR_PASSWORD, HERE)
    second = sign_in(demo, HR_EMAIL, HR_PASSWORD, HERE)
    assert first.principal is not None and second.principal is not None
    person_id = first.principal.person_id

    def found(session_id: str) -> bool:
        with demo.sessions() as session:
            return principal_for_session(session, person_id, session_id, clock(), TODAY) is not None

    assert found(first.session_id) and found(second.session_id)
    with demo.sessions() as session:
        stored = session.scalars(select(HrSession.id_hash)).all()
    assert first.session_id not in stored  # only its hash is kept
    end_session(demo, first.principal, first.session_id)
    assert not found(first.session_id) and found(second.session_id)
    clock.advance(minutes=50)
    touch_session(demo, second.session_id)
    clock.advance(minutes=50)
    assert found(second.session_id)  # used 50 minutes ago
    clock.advance(minutes=IDLE_TIMEOUT.total_seconds() // 60)
    assert not found(second.session_id)
    third = sign_in(demo, HR_EMAIL, HR_PASSWORD, HERE)
    set_password(demo, HR_EMAIL, "another long password")
    assert not found(third.session_id)  # a new password ends every session


def test_api_tokens_are_stored_as_hashes_and_can_be_revoked(demo: Runtime) -> None:
    token = issue_api_token(demo, label="cli")
    with demo.sessions() as session:
        stored = session.scalars(select(ApiToken)).one()
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert principal_for_token(session, token, NOW, TODAY).principal.email == HR_EMAIL
    revoke_api_token(demo, token, actor="cli")
    with demo.sessions() as session, pytest.raises(NotFound):
        principal_for_token(session, token, NOW, TODAY)


def test_api_tokens_expire(demo: Runtime, clock: ManualClock) -> None:
    token = issue_api_token(demo, label="cli", days=2)
    with demo.sessions() as session:
        assert principal_for_token(session, token, clock(), TODAY).stale  # never used yet
        with pytest.raises(NotFound):
            principal_for_token(session, token, clock() + dt.timedelta(days=2), TODAY)
    with pytest.raises(InvalidInput):
        issue_api_token(demo, days=0)


def test_a_token_of_someone_who_is_not_hr_is_forbidden(demo: Runtime) -> None:
    token = issue_token_for_any_person(demo, LEADER_EMAIL)
    with demo.sessions() as session, pytest.raises(Forbidden):
        principal_for_token(session, token, NOW, TODAY)


def test_demo_mode_gives_the_demo_hr_person_a_known_password(demo: Runtime) -> None:
    demo.settings = demo.settings.model_copy(update={"demo": True})
    email, password = ensure_demo_hr_password(demo)
    assert (email, password) == (HR_EMAIL, DEMO_PASSWORD)
    assert ensure_demo_hr_password(demo) == (email, password)
    assert _sign_in(demo, email, password) is SignInOutcome.OK
    # A password HR chose is never put back to the published one.
    set_password(demo, email, "our own secret password")
    assert ensure_demo_hr_password(demo) == (email, None)
    assert _sign_in(demo, email, DEMO_PASSWORD) is SignInOutcome.REFUSED


def test_an_hr_person_is_added_with_a_password(demo: Runtime) -> None:
    add_hr_person(demo, "Ny.HR@Fjordvik.no", "Ny HR", "a long enough password")
    assert _sign_in(demo, "ny.hr@fjordvik.no", "a long enough password") is SignInOutcome.OK
    with pytest.raises(Conflict):
        add_hr_person(demo, LEADER_EMAIL, "Leder", "a long enough password")
    with pytest.raises(InvalidInput):
        add_hr_person(demo, "rep@[fagforbund.no", "Rep", "a long enough password")
    with pytest.raises(NotFound):
        add_hr_person(demo, "x@fjordvik.no", "X", "a long enough password", unit_code="NOPE")
