"""Who may read talk notes is answered from the part of the organisation around the talk, on SQLite and
PostgreSQL; the answer is the one the whole organisation gives, for every talk task and every person."""

from __future__ import annotations

from sqlalchemy import select, update

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Cycle, HumanTask, Person, Unit
from aarshjul.domain.enums import TALK_FORMS, Role
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.org import load_org
from aarshjul.usecases.shared.privacy import may_read_talk
from tests.builders import ORDER, demo_cycle, drive_unit, unit_id


def test_talk_readers_are_those_the_whole_organisation_names(runtime: Runtime) -> None:
    cycle_id = demo_cycle(runtime)
    for code in ("HR", "HEL"):
        drive_unit(runtime, cycle_id, unit_id(runtime, code), ORDER[-1])
    today = runtime.clock().date()
    with unit_of_work(runtime.sessions) as session:
        # A unit whose leader has left: someone above acts for it, and reads its talks.
        gone = session.scalar(select(Unit.leader_id).where(Unit.code == "HEL"))
        session.execute(update(Person).where(Person.id == gone).values(active_to=today.replace(year=today.year - 1)))
    with runtime.sessions() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        org, _ = load_org(session, cycle.organisation_id, today)
        people = list(session.scalars(select(Person)))
        tasks = [t for t in session.scalars(select(HumanTask)) if t.form_key in TALK_FORMS]
        assert tasks
        answers = 0
        for task in tasks:
            subject = task.subject_person_id
            for viewer in people:
                expected = viewer.id == subject or (
                    viewer.role != Role.HR and viewer.id in (org.manager_of(subject), org.acting_leader(task.unit_id))
                )
                assert may_read_talk(session, task, viewer.id, today) is expected, (task.id, viewer.id)
                answers += expected
    assert answers > len(tasks)  # leaders read them too, not only the employees themselves
