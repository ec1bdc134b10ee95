"""Tasks the advance could not give to anyone are kept and shown on HR's board until someone can take them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from aarshjul.db.models import Person, Unit
from aarshjul.domain.enums import Role
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.reporting.unassignable import unassignable_tasks
from tasks import cycle_tasks
from tasks.context import use_runtime
from tests.builders import unit_id
from tests.fakes import RecordingTriggers
from tests.hr_support import HR_EMAIL, hr_clients, sign_in


def _advance(runtime: Runtime, cycle_id: int) -> list[str]:
    use_runtime(runtime)
    try:
        return list(cycle_tasks.advance(cycle_id)["unassignable"])
    finally:
        use_runtime(None)


def _set_leader(runtime: Runtime, unit: int, leader: int | None) -> None:
    with runtime.sessions.begin() as session:
        session.execute(update(Unit).where(Unit.id == unit).values(leader_id=leader))


def test_tasks_nobody_can_take_are_listed_until_someone_can(runtime: Runtime) -> None:
    """A task goes to the unit's leader, else a leader above, else HR: here there is none of them."""
    seed_demo(runtime)
    runtime.triggers = RecordingTriggers()
    hel = unit_id(runtime, "HEL")
    with runtime.sessions.begin() as session:
        leader = session.scalar(select(Unit.leader_id).where(Unit.id == hel))
        session.execute(update(Unit).values(leader_id=None))
        session.execute(update(Person).where(Person.role == Role.HR).values(role=Role.EMPLOYEE))
    cycle_id = start_cycle(runtime, 2027, starts_on=runtime.clock().astimezone(runtime.settings.zone).date())

    unassignable = _advance(runtime, cycle_id)
    assert len(unassignable) == 8 and f"c{cycle_id}:u{hel}:strategy_review:review" in unassignable
    with runtime.sessions() as session:
        listed = unassignable_tasks(session, cycle_id)
    assert len(listed) == 8 and {u.task_name.en for u in listed} == {"1. Strategy review"}
    first_noticed = {u.unit_id: u.noticed_at for u in listed}

    runtime.clock.set(runtime.clock() + dt.timedelta(hours=1))  # type: ignore[attr-defined]
    _advance(runtime, cycle_id)  # still nobody: the entry keeps the time it was first noticed
    with runtime.sessions() as session:
        assert {u.unit_id: u.noticed_at for u in unassignable_tasks(session, cycle_id)} == first_noticed

    _set_leader(runtime, hel, leader)  # HEL's leader is back: the tasks of HEL and the units below it go out
    waiting = len(_advance(runtime, cycle_id))
    assert 0 < waiting < 7
    with runtime.sessions() as session:
        assert hel not in {u.unit_id for u in unassignable_tasks(session, cycle_id)}
    with runtime.sessions.begin() as session:  # HR again, so HR can sign in and read the board
        session.execute(update(Person).where(Person.email == HR_EMAIL).values(role=Role.HR))
    with hr_clients(runtime) as hr:
        sign_in(hr.client)
        assert f"Oppgaver ingen kunne få ({waiting})" in hr.client.get(f"/board?cycle={cycle_id}").text
        assert f"Tasks nobody could be given ({waiting})" in hr.client.get(f"/board?cycle={cycle_id}&lang=en").text
        assert _advance(runtime, cycle_id) == []  # HR is back: every task has someone
        assert "Oppgaver ingen kunne få" not in hr.client.get(f"/board?cycle={cycle_id}").text
