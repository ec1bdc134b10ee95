"""HR access use cases: argon2 passwords, lock-out, hashed API tokens, the demo password."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from aarshjul.clock import ManualClock
from aarshjul.db.models import ApiToken, AuditEvent, HrCredential
from aarshjul.domain.errors import Forbidden, InvalidInput, NotFound
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import (
    DEMO_PASSWORD,
    MAX_FAILED_ATTEMPTS,
    SignInOutcome,
    ensure_demo_hr_password,
    issue_api_token,
    issue_token_for_any_person,
    principal_for_token,
    revoke_api_token,
    set_password,
    sign_in,
)
from aarshjul.usecases.admin.org_import import seed_demo
from tests.hr_support import HR_EMAIL, HR_PASSWORD, LEADER_EMAIL

TODAY = dt.date(2027, 1, 4)


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
    result = sign_in(demo, HR_EMAIL.upper(), HR_PASSWORD)
    assert result.outcome is SignInOutcome.OK
    assert result.principal is not None and result.principal.email == HR_EMAIL


def test_only_hr_people_get_passwords_and_short_ones_are_refused(demo: Runtime) -> None:
    with pytest.raises(NotFound):
        set_password(demo, LEADER_EMAIL, HR_PASSWORD)
    with pytest.raises(InvalidInput) as refused:
        set_password(demo, HR_EMAIL, "short")
    assert refused.value.field == "password"


def test_five_failures_lock_the_account_for_fifteen_minutes(demo: Runtime, clock: ManualClock) -> None:
    set_password(demo, HR_EMAIL, HR_PASSWORD)
    outcomes = [sign_in(demo, HR_EMAIL, "wrong password!").outcome for _ in range(MAX_FAILED_ATTEMPTS)]
    assert outcomes == [SignInOutcome.REFUSED] * (MAX_FAILED_ATTEMPTS - 1) + [SignInOutcome.LOCKED]
    assert sign_in(demo, HR_EMAIL, HR_PASSWORD).outcome is SignInOutcome.LOCKED
    clock.advance(minutes=16)
    assert sign_in(demo, HR_EMAIL, HR_PASSWORD).outcome is SignInOutcome.OK
    with demo.sessions() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("hr."))))
    assert "hr.lock_out" in actions and actions.count("hr.sign_in_failed") == MAX_FAILED_ATTEMPTS - 1


def test_unknown_email_and_wrong_password_get_the_same_answer(demo: Runtime) -> None:
    set_password(demo, HR_EMAIL, HR_PASSWORD)
    assert sign_in(demo, "nobody@example.no", HR_PASSWORD).outcome is SignInOutcome.REFUSED
    assert sign_in(demo, HR_EMAIL, "not the password").outcome is SignInOutcome.REFUSED


def test_api_tokens_are_stored_as_hashes_and_can_be_revoked(demo: Runtime) -> None:
    token = issue_api_token(demo, label="cli")
    with demo.sessions() as session:
        stored = session.scalars(select(ApiToken)).one()
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert principal_for_token(session, token, TODAY).email == HR_EMAIL
    revoke_api_token(demo, token, actor="cli")
    with demo.sessions() as session, pytest.raises(NotFound):
        principal_for_token(session, token, TODAY)


def test_a_token_of_someone_who_is_not_hr_is_forbidden(demo: Runtime) -> None:
    token = issue_token_for_any_person(demo, LEADER_EMAIL)
    with demo.sessions() as session, pytest.raises(Forbidden):
        principal_for_token(session, token, TODAY)


def test_demo_mode_gives_the_demo_hr_person_a_known_password(demo: Runtime) -> None:
    demo.settings = demo.settings.model_copy(update={"demo": True})
    email, password = ensure_demo_hr_password(demo)
    assert (email, password) == (HR_EMAIL, DEMO_PASSWORD)
    assert ensure_demo_hr_password(demo) == (email, password)
    assert sign_in(demo, email, password).outcome is SignInOutcome.OK
