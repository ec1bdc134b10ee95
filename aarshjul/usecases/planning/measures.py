"""HR's own measures on the plan: organisation-wide measures (overordnede tiltak), merging similar
unit proposals into one, and placing a unit's measure in a competence area and pricing it.

Principle 1 holds for HR too: an organisation-wide measure names the units' critical needs it answers
(one at least, live, of this strategy period), so the chain need → unit goal → main goal is there
for every measure of the plan. Merged proposals stay visible, marked merged and pointing at the
measure they became part of; the leader of each unit is told by email in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    CompetenceArea,
    CriticalNeed,
    Cycle,
    Measure,
    MeasureArea,
    MeasureNeed,
    Person,
    StrategyPeriod,
)
from aarshjul.domain.enums import CycleState, LearningForm, MeasureScope, MeasureState, Role
from aarshjul.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from aarshjul.domain.planning import CostLine, merged_costs
from aarshjul.domain.progression import OrgChart
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning.plan import PLANNED_STATES, current_period
from aarshjul.usecases.shared.costs import cost_facts, costs_of, replace_costs
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.shared.mail import message_to
from aarshjul.usecases.shared.org import Contact, load_org
from aarshjul.usecases.shared.writes import audit
from notifications.outbox import enqueue_many

MERGED_TEMPLATE = "measure_merged"
MAX_TITLE = 300
MAX_TEXT = 2000
#: Proposals HR may merge: waiting for a decision, or approved and not yet evaluated.
MERGEABLE = frozenset({MeasureState.PROPOSED, MeasureState.APPROVED})


@dataclass(frozen=True)
class MeasureText:
    """A measure as the lecture's template describes it."""

    title: str
    learning_form: LearningForm
    first_year: int
    last_year: int
    target_group: str = ""
    desired_effect: str = ""
    success_criteria: str = ""
    learning_goals: str = ""
    form_and_content: str = ""
    evaluation_method: str = ""
    starts_on: dt.date | None = None
    evaluate_on: dt.date | None = None


@dataclass(frozen=True)
class PlanMeasureInput:
    text: MeasureText
    need_ids: Sequence[int] = ()
    area_ids: Sequence[int] = ()  #: the main area first
    costs: Sequence[CostLine] | None = None  #: None when merging: the proposals' lines added up
    merge_ids: Sequence[int] = field(default_factory=tuple)


def _hr(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None or person.role != Role.HR:
        raise Forbidden("only HR makes measures for the whole organisation")
    return person


def _checked_text(text: MeasureText, period: StrategyPeriod) -> MeasureText:
    title = " ".join(text.title.split())
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput("title", f"give the measure a title (at most {MAX_TITLE} characters)")
    for name in ("target_group", "desired_effect", "success_criteria", "learning_goals", "form_and_content"):
        if len(getattr(text, name)) > MAX_TEXT:
            raise InvalidInput(name, f"at most {MAX_TEXT} characters")
    if len(text.evaluation_method) > MAX_TEXT:
        raise InvalidInput("evaluation_method", f"at most {MAX_TEXT} characters")
    if not period.first_year <= text.first_year <= period.last_year:
        raise InvalidInput("first_year", f"a year of the strategy period ({period.first_year}–{period.last_year})")
    if not text.first_year <= text.last_year <= period.last_year:
        raise InvalidInput("last_year", f"from the first year to {period.last_year}")
    first, last = dt.date(period.first_year, 1, 1), dt.date(period.last_year, 12, 31)
    if text.starts_on is not None and not text.first_year <= text.starts_on.year <= text.last_year:
        raise InvalidInput("starts_on", "the start must fall within the first and the last year")
    if text.evaluate_on is not None and not first <= text.evaluate_on <= last:
        raise InvalidInput("evaluate_on", "give a date within the strategy period")
    if text.evaluate_on is not None and text.starts_on is not None and text.evaluate_on <= text.starts_on:
        raise InvalidInput("evaluate_on", "the evaluation date must be after the start")
    return MeasureText(**{**text.__dict__, "title": title})


def _needs(session: Session, period: StrategyPeriod, need_ids: Sequence[int]) -> list[CriticalNeed]:
    """The live needs named, of this period's cycles; the chain needs at least one."""
    wanted = list(dict.fromkeys(need_ids))
    if not wanted:
        raise InvalidInput("need_ids", "choose the critical needs of the units that the measure answers")
    found = {
        need.id: need
        for need in session.scalars(
            select(CriticalNeed)
            .join(Cycle, Cycle.id == CriticalNeed.cycle_id)
            .where(
                CriticalNeed.id.in_(wanted),
                CriticalNeed.retired.is_(False),
                Cycle.period_id == period.id,
                Cycle.state != CycleState.CANCELLED,
            )
        )
    }
    if len(found) != len(wanted):
        raise InvalidInput("need_ids", "choose critical needs from the list")
    return [found[n] for n in wanted]


def _areas(session: Session, period: StrategyPeriod, area_ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(area_ids))
    known = set(
        session.scalars(
            select(CompetenceArea.id).where(CompetenceArea.id.in_(wanted), CompetenceArea.period_id == period.id)
        )
    )
    if len(known) != len(wanted):
        raise InvalidInput("area_ids", "choose competence areas from the list")
    return wanted


def _link(session: Session, measure: Measure, needs: list[CriticalNeed] | None, area_ids: list[int]) -> None:
    if needs is not None:
        session.execute(delete(MeasureNeed).where(MeasureNeed.measure_id == measure.id))
        session.add_all(MeasureNeed(measure_id=measure.id, critical_need_id=n.id) for n in needs)
        measure.critical_need_id = needs[0].id
    session.execute(delete(MeasureArea).where(MeasureArea.measure_id == measure.id))
    session.add_all(
        MeasureArea(measure_id=measure.id, competence_area_id=a, position=i) for i, a in enumerate(area_ids)
    )
    session.flush()


def _write_text(measure: Measure, text: MeasureText) -> None:
    for name, value in text.__dict__.items():
        setattr(measure, name, value)


def _facts(
    measure: Measure, needs: Sequence[int], areas: Sequence[int], costs: Sequence[CostLine]
) -> dict[str, object]:
    return {
        "title": measure.title,
        "years": [measure.first_year, measure.last_year],
        "need_ids": list(needs),
        "area_ids": list(areas),
        "costs": cost_facts(costs),
    }


def create_plan_measure(runtime: Runtime, data: PlanMeasureInput, actor_id: int) -> int:
    """An organisation-wide measure of HR's, in the plan at once; with ``merge_ids`` it takes the
    place of those units' proposals. Returns its id."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        owner = _hr(session, actor_id)
        period = current_period(session)
        text = _checked_text(data.text, period)
        merged = _mergeable(session, period, data.merge_ids)
        needs = _needs(session, period, [*(m.critical_need_id for m in merged), *data.need_ids])
        area_ids = _areas(session, period, data.area_ids)
        measure = Measure(
            cycle_id=needs[0].cycle_id,
            unit_id=owner.unit_id,
            scope=MeasureScope.ORGANISATION,
            critical_need_id=needs[0].id,
            owner_id=owner.id,
            state=MeasureState.APPROVED,
            revision=1,
            hr_comment="",
            decided_at=now,
            title=text.title,
            desired_effect="",
            success_criteria="",
            learning_goals="",
            learning_form=text.learning_form,
            form_and_content="",
            evaluation_method="",
            first_year=text.first_year,
            last_year=text.last_year,
        )
        _write_text(measure, text)
        session.add(measure)
        session.flush()
        _link(session, measure, needs, area_ids)
        if data.costs is not None:
            costs = list(data.costs)
        else:
            earlier = costs_of(session, (m.id for m in merged))
            years = range(text.first_year, text.last_year + 1)
            costs = [c for c in merged_costs(c for m in merged for c in earlier.get(m.id, [])) if c.year in years]
        replace_costs(session, measure, costs)
        actor = f"person:{actor_id}"
        facts = _facts(measure, [n.id for n in needs], area_ids, costs_of(session, [measure.id])[measure.id])
        audit(
            session,
            now,
            actor,
            "measure.create",
            "measure",
            measure.id,
            None,
            {**facts, "merged": [m.id for m in merged]},
        )
        _merge(session, runtime, merged, measure, actor, now)
        cycles = sorted({m.cycle_id for m in merged if m.state is MeasureState.MERGED})
        measure_id = measure.id
    for cycle_id in cycles:
        runtime.triggers.advance(cycle_id)  # the merged proposals' approval tasks are void now
    if cycles:
        runtime.triggers.dispatch()
    return measure_id


def _mergeable(session: Session, period: StrategyPeriod, measure_ids: Sequence[int]) -> list[Measure]:
    wanted = list(dict.fromkeys(measure_ids))
    if not wanted:
        return []
    if len(wanted) < 2:
        raise InvalidInput("merge_ids", "choose at least two proposals to merge")
    rows = list(
        session.scalars(
            select(Measure)
            .join(Cycle, Cycle.id == Measure.cycle_id)
            .where(Measure.id.in_(wanted), Cycle.period_id == period.id)
            .order_by(Measure.id)
            .with_for_update()
        )
    )
    if len(rows) != len(wanted):
        raise NotFound("a measure to merge does not exist in this strategy period")
    for m in rows:
        if m.scope is not MeasureScope.UNIT or m.state not in MERGEABLE:
            raise Conflict(f"«{m.title}» cannot be merged: only units' proposals and approved measures can")
    return rows


def _merge(
    session: Session, runtime: Runtime, merged: list[Measure], into: Measure, actor: str, now: dt.datetime
) -> None:
    """The proposals become part of ``into``; each unit's leader is told (one email per proposal)."""
    if not merged:
        return
    messages = []
    today = today_for(now, runtime.settings.zone)
    orgs: dict[int, tuple[OrgChart, dict[int, Contact]]] = {}
    for proposal in merged:
        before = {"state": proposal.state, "revision": proposal.revision}
        proposal.state, proposal.merged_into_id, proposal.decided_at = MeasureState.MERGED, into.id, now
        after = {"state": proposal.state, "merged_into": into.id}
        audit(session, now, actor, "measure.merge", "measure", proposal.id, before, after)
        cycle = session.get(Cycle, proposal.cycle_id)
        if cycle is None:
            continue
        if cycle.organisation_id not in orgs:
            orgs[cycle.organisation_id] = load_org(session, cycle.organisation_id, today)
        org, contacts = orgs[cycle.organisation_id]
        told = proposal.owner_id if org.is_active(proposal.owner_id) else org.acting_leader(proposal.unit_id)
        contact = contacts.get(told) if told is not None else None
        if contact is not None:
            key = f"{MERGED_TEMPLATE}:m{proposal.id}:into{into.id}"
            context = {"measure_id": proposal.id, "merged_into_id": into.id}
            messages.append(message_to(contact, key, MERGED_TEMPLATE, context, now))
    enqueue_many(session, messages, now)


def _linked(session: Session, column: Any, key: Any, measure_id: int) -> list[int]:
    return list(session.scalars(select(column).where(key == measure_id)))


def _area_ids(session: Session, measure_id: int) -> list[int]:
    return _linked(session, MeasureArea.competence_area_id, MeasureArea.measure_id, measure_id)


def _planned(session: Session, measure_id: int) -> Measure:
    measure = session.scalars(select(Measure).where(Measure.id == measure_id).with_for_update()).first()
    if measure is None:
        raise NotFound(f"measure {measure_id} does not exist")
    if measure.state not in PLANNED_STATES:
        raise Conflict("only measures in the plan (approved or evaluated) are changed here")
    return measure


def edit_plan_measure(runtime: Runtime, measure_id: int, data: PlanMeasureInput, actor_id: int) -> None:
    """HR changes one of its organisation-wide measures: text, needs, areas and costs."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        _hr(session, actor_id)
        period = current_period(session)
        measure = _planned(session, measure_id)
        if measure.scope is not MeasureScope.ORGANISATION:
            raise Conflict("a unit's measure is changed by its unit; HR places it in areas and prices it")
        before_needs = list(
            session.scalars(select(MeasureNeed.critical_need_id).where(MeasureNeed.measure_id == measure.id))
        )
        before_areas = list(
            session.scalars(select(MeasureArea.competence_area_id).where(MeasureArea.measure_id == measure.id))
        )
        before = _facts(measure, before_needs, before_areas, costs_of(session, [measure.id]).get(measure.id, []))
        text = _checked_text(data.text, period)
        needs = _needs(session, period, data.need_ids)
        area_ids = _areas(session, period, data.area_ids)
        _write_text(measure, text)
        _link(session, measure, needs, area_ids)
        replace_costs(session, measure, list(data.costs or []))
        after = _facts(measure, [n.id for n in needs], area_ids, costs_of(session, [measure.id]).get(measure.id, []))
        audit(session, now, f"person:{actor_id}", "measure.edit", "measure", measure.id, before, after)


def place_measure(
    runtime: Runtime, measure_id: int, area_ids: Sequence[int], costs: Sequence[CostLine] | None, actor_id: int
) -> None:
    """HR places a measure of the plan in competence areas (main first) and, if given, adjusts its costs."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        _hr(session, actor_id)
        period = current_period(session)
        measure = _planned(session, measure_id)
        before_areas = list(
            session.scalars(select(MeasureArea.competence_area_id).where(MeasureArea.measure_id == measure.id))
        )
        before_costs = costs_of(session, [measure.id]).get(measure.id, [])
        areas = _areas(session, period, area_ids)
        _link(session, measure, None, areas)
        if costs is not None:
            replace_costs(session, measure, list(costs))
        after_costs = costs_of(session, [measure.id]).get(measure.id, [])
        audit(
            session,
            now,
            f"person:{actor_id}",
            "measure.place",
            "measure",
            measure.id,
            {"area_ids": before_areas, "costs": cost_facts(before_costs)},
            {"area_ids": areas, "costs": cost_facts(after_costs)},
        )
