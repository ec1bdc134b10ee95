"""The demo a new user starts with: Fjordvik kommune with the finished year 2025 and its adopted
competence plan, the lecture's three overarching measures with costs, and one evaluation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from aarshjul.db.models import Cycle, Notification
from aarshjul.demo import ADOPTED_CASE, seed_demo
from aarshjul.domain.enums import CycleState, NotificationState, PlanVersionState
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning.status import yearly_status
from aarshjul.usecases.planning.versions import frozen_intact, plan_document, versions

LECTURE = (
    "Felles opplæring i endringsledelse og endringsprosesser for ledere og tillitsvalgte",
    "Opplæring i medarbeiderskap og livslang læring for alle medarbeidere (avdelingsvis)",
    "Utviklingsprogram for 15 nøkkelpersoner og prosjektledere i metoder og verktøy for endringsprosesser",
)


def test_the_demo_has_a_finished_2025_with_an_adopted_plan(runtime: Runtime) -> None:
    assert seed_demo(runtime) is True
    assert seed_demo(runtime) is False  # once
    with runtime.sessions() as session:
        (cycle,) = session.scalars(select(Cycle))
        adopted = plan_document(session, version=1)
        listed = versions(session)
        status = yearly_status(session, 2025, dt.date(2026, 1, 15))
        assert frozen_intact(session, 1)
        pending = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.state == NotificationState.PENDING)
        )
    assert cycle.year == 2025 and cycle.state is CycleState.CLOSED
    assert adopted.period.name == "Arbeidsgiverstrategi 2025–2028"
    assert adopted.version.state is PlanVersionState.ADOPTED and adopted.version.case_number == ADOPTED_CASE
    assert adopted.version.adopted_by == "Kommunedirektøren" and adopted.version.adopted_on == dt.date(2025, 3, 4)
    consultation = adopted.version.consultation
    assert consultation is not None and len(consultation.statements) == 3
    change = next(a for a in adopted.areas if a.code == "ENDRING")
    assert change.main_goal.startswith("Virksomheten har ledere og medarbeidere med evne og vilje")
    assert [m.title for m in change.measures] == list(LECTURE)
    assert [m.years for m in change.measures] == [[2025], [2026, 2027], [2027, 2028]]
    assert all(m.costs and m.needs for m in change.measures)
    assert adopted.totals is not None and str(adopted.totals.all.total) == "1286500.00"
    assert [(v.number, v.state) for v in listed] == [(2, PlanVersionState.DRAFT), (1, PlanVersionState.ADOPTED)]
    # The first measure was evaluated in November 2025, with what it cost.
    (row,) = status.measures
    assert row.done and row.criteria_met == "partly" and str(row.cost_spent) == "238450.00"
    # The year's emails are history: none waits to be sent.
    assert pending == 0
