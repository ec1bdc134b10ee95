"""The competence plan over the strategy period: areas with their main goal, the measures and the
years they run, what they cost and who pays, the chain each answers, the units' needs rolled up by
area, and which version of the plan this is.

The read models live here, in the planning capability, because its use cases need them: adopting a
version freezes this very document, and the consultation records the hash of the plan discussed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    CompetenceArea,
    CriticalNeed,
    Cycle,
    HumanTask,
    Measure,
    MeasureArea,
    MeasureNeed,
    Organisation,
    StrategicGoal,
    StrategyPeriod,
    Submission,
    Unit,
    UnitGoal,
)
from aarshjul.domain.enums import (
    CostKind,
    CycleState,
    FundingSource,
    MeasureScope,
    MeasureState,
    PlanVersionState,
    TaskState,
    UnionPosition,
)
from aarshjul.domain.errors import NotFound
from aarshjul.domain.planning import CostLine, Sums, sums_by, total_of
from aarshjul.domain.progression import EVALUATION_STEP_KEY
from aarshjul.usecases.shared.answers import FormField, flatten
from aarshjul.usecases.shared.costs import costs_of
from aarshjul.usecases.shared.money import NOK, Amounts
from forms.messages import CHOICE_LABELS
from forms.registry import FORMS

PLANNED_STATES = (MeasureState.APPROVED, MeasureState.EVALUATED)


_Model = ConfigDict(frozen=True)


class PlanPeriod(BaseModel):
    model_config = _Model
    id: int
    name: str
    first_year: int
    last_year: int


class MeasureEvaluation(BaseModel):
    model_config = _Model
    submitted_at: dt.datetime | None
    answers: dict[str, Any] = Field(description="The evaluation form's answers by field key, as submitted")
    fields: list[FormField] = Field(
        default_factory=list,
        description="The answers in the form's order, each labelled with the form's field title (English "
        "message id, shown translated)",
    )


class MeasureDescription(BaseModel):
    """A measure as the lecture's template describes it (what HR decides on and the plan shows)."""

    model_config = _Model
    title: str
    learning_form: str
    target_group: str
    desired_effect: str
    success_criteria: str
    learning_goals: str
    form_and_content: str
    evaluation_method: str
    evaluate_on: dt.date | None
    first_year: int
    last_year: int


def _description(measure: Measure) -> dict[str, Any]:
    return {name: getattr(measure, name) for name in MeasureDescription.model_fields}


class CostLineView(BaseModel):
    model_config = _Model
    year: int
    kind: CostKind
    amount: NOK
    funding: FundingSource
    scheme: str = Field(description="The grant scheme, when funding is a grant")


class FundingShare(BaseModel):
    """How much of a measure (or of the plan) one source pays."""

    model_config = _Model
    funding: FundingSource
    scheme: str
    amount: NOK


class NeedLink(BaseModel):
    """A critical need a measure answers, with the chain above it: unit goal, strategic main goal."""

    model_config = _Model
    need_id: int
    need_title: str
    need_strategy: str
    unit_id: int
    unit_name: str
    unit_goal: str
    strategic_goal: str
    competence_area_id: int | None = Field(default=None, description="The area the unit put the need in")


class MergedProposal(BaseModel):
    """A unit's proposal HR merged into an organisation-wide measure: kept visible, marked merged."""

    model_config = _Model
    id: int
    title: str
    unit_id: int
    unit_name: str


class PlanMeasure(MeasureDescription):
    """One measure of the plan with the chain it answers, its costs and, once done, its evaluation.

    The ``need_*``, ``unit_goal`` and ``strategic_goal`` fields name its first need; ``needs`` names
    all of them (several for an organisation-wide measure)."""

    id: int
    state: str
    scope: MeasureScope = MeasureScope.UNIT
    years: list[int] = Field(description="The period's years in which the measure runs")
    unit_id: int
    unit_name: str
    cycle_year: int
    need_id: int
    need_title: str
    need_strategy: str
    unit_goal: str
    strategic_goal: str
    starts_on: dt.date | None = None
    area_ids: list[int] = Field(default_factory=list, description="Its competence areas, the main one first")
    needs: list[NeedLink] = Field(default_factory=list)
    costs: list[CostLineView] = Field(default_factory=list, description="Estimated cost lines (NOK)")
    funding: list[FundingShare] = Field(default_factory=list, description="What each funding source pays")
    cost: Amounts | None = None
    merged_from: list[MergedProposal] = Field(default_factory=list)
    evaluation: MeasureEvaluation | None = None


class PlanArea(BaseModel):
    model_config = _Model
    id: int | None = Field(description="None for measures that belong to no competence area yet")
    code: str
    name: str
    main_goal: str
    measures: list[PlanMeasure]
    cost: Amounts | None = None


class YearAmounts(Amounts):
    year: int


class AreaAmounts(Amounts):
    area_id: int | None = Field(description="None: measures without a competence area")
    area_name: str


class UnitAmounts(Amounts):
    unit_id: int | None = Field(description="None: HR's organisation-wide measures")
    unit_name: str


class PlanTotals(BaseModel):
    """The plan's estimated cost, funded and unfunded: in all, per year, per competence area (a measure
    counts in its main area) and per unit (organisation-wide measures on a line of their own)."""

    model_config = _Model
    all: Amounts
    by_year: list[YearAmounts]
    by_area: list[AreaAmounts]
    by_unit: list[UnitAmounts]
    by_funding: list[FundingShare]


class ConsultationParticipantView(BaseModel):
    model_config = _Model
    name: str
    union: str = Field(description="The union; empty for the employer's side")
    role: str


class UnionStatementView(BaseModel):
    model_config = _Model
    union: str
    position: UnionPosition
    comment: str


class ConsultationSummary(BaseModel):
    """The consultation meeting (drøftingsmøte) on a version, as recorded."""

    model_config = _Model
    meeting_on: dt.date
    participants: list[ConsultationParticipantView]
    statements: list[UnionStatementView]
    minutes_text: str
    has_minutes_pdf: bool
    minutes_filename: str
    recorded_at: dt.datetime
    plan_changed_since: bool = Field(default=False, description="The plan has changed since the meeting")


class PlanVersionInfo(BaseModel):
    """Which version of the plan a document is, and where it stands."""

    model_config = _Model
    number: int
    state: PlanVersionState
    adopted_on: dt.date | None = None
    adopted_by: str = Field(default="", description="The body that adopted it, e.g. kommunedirektøren")
    case_number: str = Field(default="", description="The case number (saksnummer) of the decision")
    consultation_started_at: dt.datetime | None = None
    consultation: ConsultationSummary | None = None
    sha256: str | None = Field(default=None, description="For an adopted version: the hash of the frozen document")


class PassiveCompetence(BaseModel):
    model_config = _Model
    unit_id: int
    unit_name: str
    text: str


class NeedGroup(BaseModel):
    """One critical need as several units named it (matched by title, ignoring case and spaces)."""

    model_config = _Model
    title: str
    units_count: int
    units: list[str]
    strategies: dict[str, int]
    largest_gap: int = Field(description="Highest level needed minus level today among the units")
    passive: list[PassiveCompetence]


class AreaNeeds(BaseModel):
    model_config = _Model
    area_id: int | None
    area_name: str
    needs: list[NeedGroup]


class CompetencePlan(BaseModel):
    model_config = _Model
    period: PlanPeriod
    years: list[int]
    areas: list[PlanArea]
    needs_cycle_year: int | None = Field(description="The cycle year whose critical needs the roll-up shows")
    needs_by_area: list[AreaNeeds]
    version: PlanVersionInfo = Field(
        default=PlanVersionInfo(number=1, state=PlanVersionState.DRAFT), description="Which version this is"
    )
    totals: PlanTotals | None = None


def _period(session: Session, period_id: int | None) -> StrategyPeriod:
    if period_id is not None:
        period = session.get(StrategyPeriod, period_id)
        if period is None:
            raise NotFound(f"strategy period {period_id} does not exist")
        return period
    latest_cycle_period = session.scalar(
        select(Cycle.period_id)
        .where(Cycle.state != CycleState.CANCELLED)
        .order_by(Cycle.year.desc(), Cycle.id.desc())
        .limit(1)
    )
    period = (
        session.get(StrategyPeriod, latest_cycle_period)
        if latest_cycle_period is not None
        else session.scalars(select(StrategyPeriod).order_by(StrategyPeriod.last_year.desc()).limit(1)).first()
    )
    if period is None:
        raise NotFound("no strategy period is loaded")
    return period


def organisation_name(session: Session) -> str:
    """The name a plan document is headed with."""
    return session.scalar(select(Organisation.name).order_by(Organisation.id).limit(1)) or ""


def current_period(session: Session, period_id: int | None = None) -> StrategyPeriod:
    """The period named, else the period of the latest cycle, else the latest period loaded."""
    return _period(session, period_id)


def competence_plan(session: Session, period_id: int | None = None, needs_year: int | None = None) -> CompetencePlan:
    """The live plan: what the working draft says now (its version is set by the caller)."""
    period = _period(session, period_id)
    years = list(range(period.first_year, period.last_year + 1))
    areas = list(
        session.scalars(
            select(CompetenceArea).where(CompetenceArea.period_id == period.id).order_by(CompetenceArea.position)
        )
    )
    rows = session.execute(
        select(Measure, Unit.name, Cycle.year)
        .join(Cycle, Cycle.id == Measure.cycle_id)
        .join(Unit, Unit.id == Measure.unit_id)
        .where(Cycle.period_id == period.id, Measure.state.in_(PLANNED_STATES))
        .order_by(Measure.first_year, Measure.id)
    ).all()
    ids = [r[0].id for r in rows]
    evaluations = _evaluations(session, ids)
    chains = measure_needs(session, [r[0] for r in rows])
    placed = measure_areas(session, ids)
    costs = costs_of(session, ids)
    merged = _merged_from(session, ids)
    by_area: dict[int | None, list[PlanMeasure]] = defaultdict(list)
    all_lines: list[tuple[PlanMeasure, CostLine]] = []
    for measure, unit_name, cycle_year in rows:
        needs = chains.get(measure.id, [])
        first = needs[0] if needs else None
        area_ids = placed.get(measure.id) or (
            [first.competence_area_id] if first is not None and first.competence_area_id is not None else []
        )
        lines = costs.get(measure.id, [])
        plan_measure = PlanMeasure(
            **_description(measure),
            id=measure.id,
            state=measure.state,
            scope=measure.scope,
            years=[y for y in years if measure.first_year <= y <= measure.last_year],
            unit_id=measure.unit_id,
            unit_name=unit_name,
            cycle_year=cycle_year,
            need_id=first.need_id if first else measure.critical_need_id,
            need_title=first.need_title if first else "",
            need_strategy=first.need_strategy if first else "",
            unit_goal=first.unit_goal if first else "",
            strategic_goal=first.strategic_goal if first else "",
            starts_on=measure.starts_on,
            area_ids=area_ids,
            needs=needs,
            costs=[_line_view(c) for c in lines],
            funding=_funding(lines),
            cost=Amounts.of(total_of(lines)),
            merged_from=merged.get(measure.id, []),
            evaluation=evaluations.get(measure.id),
        )
        by_area[area_ids[0] if area_ids else None].append(plan_measure)
        all_lines += [(plan_measure, c) for c in lines]
    plan_areas = [
        PlanArea(
            id=a.id,
            code=a.code,
            name=a.name,
            main_goal=a.main_goal,
            measures=by_area.get(a.id, []),
            cost=Amounts.of(total_of(c for m in by_area.get(a.id, []) for c in costs.get(m.id, []))),
        )
        for a in areas
    ]
    if by_area.get(None):
        unplaced = by_area[None]
        plan_areas.append(
            PlanArea(
                id=None,
                code="",
                name="",
                main_goal="",
                measures=unplaced,
                cost=Amounts.of(total_of(c for m in unplaced for c in costs.get(m.id, []))),
            )
        )
    needs_cycle_year, roll_up = _needs_roll_up(session, period, areas, needs_year)
    return CompetencePlan(
        period=PlanPeriod(id=period.id, name=period.name, first_year=period.first_year, last_year=period.last_year),
        years=years,
        areas=plan_areas,
        needs_cycle_year=needs_cycle_year,
        needs_by_area=roll_up,
        totals=_totals(years, plan_areas, all_lines),
    )


def _line_view(line: CostLine) -> CostLineView:
    return CostLineView(year=line.year, kind=line.kind, amount=line.amount, funding=line.funding, scheme=line.scheme)


def _funding(lines: Iterable[CostLine]) -> list[FundingShare]:
    shares = sums_by(((c.funding, c.scheme), c) for c in lines)
    return [FundingShare(funding=f, scheme=s, amount=sums.total) for (f, s), sums in shares.items()]


def _totals(years: list[int], areas: list[PlanArea], lines: list[tuple[PlanMeasure, CostLine]]) -> PlanTotals:
    by_year = sums_by((c.year, c) for _, c in lines)
    area_of = {m.id: area for area in areas for m in area.measures}
    by_area = sums_by((area_of[m.id].id, c) for m, c in lines)
    by_unit = sums_by(
        ((None, "") if m.scope is MeasureScope.ORGANISATION else (m.unit_id, m.unit_name), c) for m, c in lines
    )
    return PlanTotals(
        all=Amounts.of(total_of(c for _, c in lines)),
        by_year=[YearAmounts(year=y, **Amounts.of(by_year.get(y, Sums())).model_dump()) for y in years],
        by_area=[
            AreaAmounts(area_id=a.id, area_name=a.name, **Amounts.of(by_area.get(a.id, Sums())).model_dump())
            for a in areas
        ],
        by_unit=sorted(
            (
                UnitAmounts(unit_id=unit_id, unit_name=name, **Amounts.of(sums).model_dump())
                for (unit_id, name), sums in by_unit.items()
            ),
            key=lambda u: (u.unit_id is not None, u.unit_name.lower()),
        ),
        by_funding=_funding(c for _, c in lines),
    )


def measure_needs(session: Session, measures: list[Measure]) -> dict[int, list[NeedLink]]:
    """The needs each measure answers, with their chains: a unit's measure its one need, an
    organisation-wide measure every need linked to it (its first need first)."""
    linked: dict[int, list[int]] = defaultdict(list)
    organisation = [m.id for m in measures if m.scope is MeasureScope.ORGANISATION]
    if organisation:
        for measure_id, need_id in session.execute(
            select(MeasureNeed.measure_id, MeasureNeed.critical_need_id)
            .where(MeasureNeed.measure_id.in_(organisation))
            .order_by(MeasureNeed.measure_id, MeasureNeed.critical_need_id)
        ):
            linked[measure_id].append(need_id)
    for m in measures:
        rest = [n for n in linked.get(m.id, []) if n != m.critical_need_id]
        linked[m.id] = [m.critical_need_id, *rest]
    chains = need_links(session, {n for ids in linked.values() for n in ids})
    return {m_id: [chains[n] for n in ids if n in chains] for m_id, ids in linked.items()}


def need_links(session: Session, need_ids: Iterable[int]) -> dict[int, NeedLink]:
    ids = list(need_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(CriticalNeed, Unit.name, UnitGoal.title, StrategicGoal.title)
        .join(Unit, Unit.id == CriticalNeed.unit_id)
        .join(UnitGoal, UnitGoal.id == CriticalNeed.unit_goal_id)
        .join(StrategicGoal, StrategicGoal.id == UnitGoal.strategic_goal_id)
        .where(CriticalNeed.id.in_(ids))
    )
    return {
        need.id: NeedLink(
            need_id=need.id,
            need_title=need.title,
            need_strategy=need.strategy,
            unit_id=need.unit_id,
            unit_name=unit_name,
            unit_goal=goal,
            strategic_goal=strategic,
            competence_area_id=need.competence_area_id,
        )
        for need, unit_name, goal, strategic in rows
    }


def live_needs(session: Session, period_id: int) -> list[NeedLink]:
    """The units' live critical needs of the period's cycles, by unit: what HR's measures may answer."""
    ids = session.scalars(
        select(CriticalNeed.id)
        .join(Cycle, Cycle.id == CriticalNeed.cycle_id)
        .where(Cycle.period_id == period_id, Cycle.state != CycleState.CANCELLED, CriticalNeed.retired.is_(False))
    )
    return sorted(
        need_links(session, ids).values(), key=lambda n: (n.unit_name.lower(), n.need_title.lower(), n.need_id)
    )


def measure_areas(session: Session, measure_ids: Iterable[int]) -> dict[int, list[int]]:
    """The areas HR placed each measure in, main area first."""
    ids = list(measure_ids)
    found: dict[int, list[int]] = defaultdict(list)
    if not ids:
        return found
    for measure_id, area_id in session.execute(
        select(MeasureArea.measure_id, MeasureArea.competence_area_id)
        .where(MeasureArea.measure_id.in_(ids))
        .order_by(MeasureArea.measure_id, MeasureArea.position, MeasureArea.competence_area_id)
    ):
        found[measure_id].append(area_id)
    return found


def _merged_from(session: Session, measure_ids: list[int]) -> dict[int, list[MergedProposal]]:
    found: dict[int, list[MergedProposal]] = defaultdict(list)
    if not measure_ids:
        return found
    rows = session.execute(
        select(Measure.id, Measure.title, Measure.unit_id, Measure.merged_into_id, Unit.name)
        .join(Unit, Unit.id == Measure.unit_id)
        .where(Measure.merged_into_id.in_(measure_ids))
        .order_by(Measure.id)
    )
    for row in rows:
        if row.merged_into_id is not None:
            found[row.merged_into_id].append(
                MergedProposal(id=row.id, title=row.title, unit_id=row.unit_id, unit_name=row.name)
            )
    return found


def _evaluations(session: Session, measure_ids: list[int]) -> dict[int, MeasureEvaluation]:
    if not measure_ids:
        return {}
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .where(Submission.is_draft.is_(False))
        .group_by(Submission.task_id)
        .subquery()
    )
    rows = session.execute(
        select(HumanTask.measure_id, HumanTask.submitted_at, HumanTask.form_key, Submission.data)
        .join(newest, newest.c.task_id == HumanTask.id)
        .join(Submission, and_(Submission.task_id == newest.c.task_id, Submission.version == newest.c.version))
        .where(
            HumanTask.measure_id.in_(measure_ids),
            HumanTask.step_key == EVALUATION_STEP_KEY,
            HumanTask.state == TaskState.SUBMITTED,
        )
    )
    return {
        measure_id: MeasureEvaluation(submitted_at=submitted_at, answers=data or {}, fields=_labelled(data, form_key))
        for measure_id, submitted_at, form_key, data in rows
    }


def _labelled(data: dict[str, Any] | None, form_key: str) -> list[FormField]:
    """The evaluation's answers labelled with the form's field titles; a choice (criteria met, what
    next) shows the option's label as the form offered it, not its code."""
    return [
        field.model_copy(update={"value": CHOICE_LABELS.get(field.value, field.value)}) if field.coded else field
        for field in flatten(data or {}, FORMS.get(form_key))
    ]


def _needs_roll_up(
    session: Session, period: StrategyPeriod, areas: list[CompetenceArea], year: int | None
) -> tuple[int | None, list[AreaNeeds]]:
    if year is None:
        year = session.scalar(
            select(func.max(Cycle.year))
            .join(CriticalNeed, CriticalNeed.cycle_id == Cycle.id)
            .where(Cycle.period_id == period.id, Cycle.state != CycleState.CANCELLED)
        )
    if year is None:
        return None, []
    rows = session.execute(
        select(CriticalNeed, Unit.name)
        .join(Cycle, Cycle.id == CriticalNeed.cycle_id)
        .join(Unit, Unit.id == CriticalNeed.unit_id)
        .where(
            Cycle.period_id == period.id,
            Cycle.year == year,
            Cycle.state != CycleState.CANCELLED,
            CriticalNeed.retired.is_(False),
        )
        .order_by(CriticalNeed.id)
    ).all()
    grouped: dict[int | None, dict[str, list[tuple[CriticalNeed, str]]]] = defaultdict(lambda: defaultdict(list))
    for need, unit_name in rows:
        grouped[need.competence_area_id][" ".join(need.title.lower().split())].append((need, unit_name))
    names: dict[int | None, str] = {a.id: a.name for a in areas}
    order = [a.id for a in areas] + ([None] if None in grouped else [])
    result: list[AreaNeeds] = []
    for area_id in order:
        if area_id not in grouped:
            continue
        groups: list[NeedGroup] = []
        for entries in grouped[area_id].values():
            unit_names: dict[int, str] = {}
            strategies: dict[str, int] = defaultdict(int)
            passive: list[PassiveCompetence] = []
            for need, unit_name in entries:
                unit_names[need.unit_id] = unit_name
                strategies[need.strategy] += 1
                if need.passive_competence.strip():
                    passive.append(
                        PassiveCompetence(unit_id=need.unit_id, unit_name=unit_name, text=need.passive_competence)
                    )
            groups.append(
                NeedGroup(
                    title=entries[0][0].title,
                    units_count=len(unit_names),
                    units=sorted(unit_names.values()),
                    strategies=dict(strategies),
                    largest_gap=max(n.level_needed - n.level_today for n, _ in entries),
                    passive=passive,
                )
            )
        # Most widely named first: that is where a shared measure serves most units.
        groups.sort(key=lambda g: (-g.units_count, g.title.lower()))
        result.append(AreaNeeds(area_id=area_id, area_name=names.get(area_id, ""), needs=groups))
    return year, result
