"""A small organisation with a running cycle and tasks, for the notification tests (shared, not copied)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    CycleDefinitionRecord,
    HumanTask,
    Measure,
    Organisation,
    Person,
    StrategicGoal,
    StrategyPeriod,
    Unit,
    UnitStep,
)
from aarshjul.domain.cycle_spec import load_definition
from aarshjul.domain.enums import FormKey, MeasureState, TaskState
from notifications.backends import Delivery, MailBackend, OutboundEmail
from notifications.outbox import OutgoingMessage, enqueue
from tests import builders

_keys = itertools.count(1)


@dataclass(frozen=True)
class World:
    organisation_id: int
    cycle_id: int
    top_unit_id: int
    unit_id: int
    hr_id: int
    director_id: int  #: leads the top unit; the manager of the unit leader
    leader_id: int  #: leads the unit, speaks English
    employee_id: int
    other_employee_id: int
    period_id: int


def build_world(session: Session, now: dt.datetime) -> World:
    definition = load_definition()
    org = Organisation(name="Testkommunen")
    session.add(org)
    session.flush()
    top = Unit(organisation_id=org.id, code="K", name="Kommunen", active=True)
    session.add(top)
    session.flush()
    unit = Unit(organisation_id=org.id, code="OPP", name="Oppvekst", parent_id=top.id, active=True)
    session.add(unit)
    session.flush()

    def person(name: str, email: str, unit_id: int, role: str, language: str = "nb") -> Person:
        row = Person(organisation_id=org.id, name=name, email=email, unit_id=unit_id, role=role, language=language)
        session.add(row)
        session.flush()
        return row

    hr = person("Hanne HR", "hanne@example.no", top.id, "hr")
    director = person("Dag Direktør", "dag@example.no", top.id, "leader")
    leader = person("Kari Leader", "kari@example.no", unit.id, "leader", "en")
    employee = person("Ola Nordmann", "ola@example.no", unit.id, "employee")
    other = person("Siri Ansatt", "siri@example.no", unit.id, "employee")
    top.leader_id = director.id
    unit.leader_id = leader.id
    period = StrategyPeriod(organisation_id=org.id, name="2025–2028", first_year=2025, last_year=2028)
    session.add(period)
    session.flush()
    record = CycleDefinitionRecord(
        key=definition.key,
        version=definition.version,
        sha256=definition.sha256,
        content=definition.model_dump(mode="json"),
        loaded_at=now,
    )
    session.add(record)
    session.flush()
    starts_on = dt.date(2027, 1, 4)
    cycle = Cycle(
        organisation_id=org.id,
        period_id=period.id,
        definition_id=record.id,
        year=2027,
        starts_on=starts_on,
        state="running",
        step_due={k: v.isoformat() for k, v in definition.due_dates(starts_on).items()},
        created_at=now,
    )
    session.add(cycle)
    session.flush()
    for unit_id in (top.id, unit.id):
        session.add(
            UnitStep(cycle_id=cycle.id, unit_id=unit_id, step_key="strategy_review", state="open", due_on=starts_on)
        )
    return World(org.id, cycle.id, top.id, unit.id, hr.id, director.id, leader.id, employee.id, other.id, period.id)


#: The form a (step, part) of the standard cycle uses, for tasks made by hand.
FORM_OF_STEP = {
    ("strategy_review", "review"): FormKey.STRATEGY_REVIEW,
    ("unit_goals", "goals"): FormKey.UNIT_GOALS,
    ("measure_proposals", "proposal"): FormKey.MEASURE_PROPOSAL,
    ("talks", "talk"): FormKey.TALK_RECORD,
    ("evaluation", "evaluation"): FormKey.MEASURE_EVALUATION,
    ("follow_up", "follow_up"): FormKey.TALK_FOLLOW_UP,
}


def add_task(
    session: Session,
    world: World,
    assignee_id: int,
    now: dt.datetime,
    step_key: str = "strategy_review",
    part_key: str = "review",
    due_on: dt.date = dt.date(2027, 1, 25),
    subject_person_id: int | None = None,
    state: TaskState = TaskState.OPEN,
    measure_id: int | None = None,
) -> HumanTask:
    form_key = FORM_OF_STEP[(step_key, part_key)]
    task = HumanTask(
        natural_key=f"test:{next(_keys)}",
        cycle_id=world.cycle_id,
        unit_id=world.unit_id,
        step_key=step_key,
        part_key=part_key,
        form_key=form_key,
        subject_person_id=subject_person_id,
        measure_id=measure_id,
        assignee_id=assignee_id,
        state=state.value,
        due_on=due_on,
        link_version=1,
        created_at=now,
    )
    session.add(task)
    session.flush()
    return task


def add_measure(session: Session, world: World, title: str = "Mentorordning for nye ledere") -> Measure:
    goal = StrategicGoal(period_id=world.period_id, code=f"G{next(_keys)}", title="Gode tjenester")
    session.add(goal)
    session.flush()
    return builders.add_measure(
        session,
        cycle_id=world.cycle_id,
        unit_id=world.unit_id,
        owner_id=world.leader_id,
        strategic_goal_id=goal.id,
        title=title,
        state=MeasureState.RETURNED,
        need_title="Veiledning",
        strategy="develop",
        level_needed=3,
        level_today=1,
        hr_comment="Beskriv suksesskriteriene nærmere, & tallfest dem.",
    )


def queue(
    session: Session,
    key: str,
    recipient: Person | None,
    template: str,
    context: dict[str, Any],
    now: dt.datetime,
    expires_at: dt.datetime | None = None,
) -> None:
    enqueue(
        session,
        OutgoingMessage(
            idempotency_key=key,
            to_email=recipient.email if recipient else "nobody@example.no",
            language=recipient.language if recipient else "nb",
            template=template,
            context=context,
            not_before=now,
            recipient_id=recipient.id if recipient else None,
            expires_at=expires_at,
        ),
        now,
    )


class Capture(MailBackend):
    """A mail backend that keeps what it was given: the network boundary, replaced."""

    name = "capture"

    def __init__(self) -> None:
        self.sent: list[OutboundEmail] = []

    def send(self, message: OutboundEmail) -> Delivery:
        self.sent.append(message)
        return Delivery("c")

    def to(self, address: str) -> list[OutboundEmail]:
        return [m for m in self.sent if m.to == address]
