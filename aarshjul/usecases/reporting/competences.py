"""The competence catalogue as HR reads it, and the competence picture of a cycle rolled up across
units by competence: what the units' goals call for, how the employees assess their own mastery
(counts per level, never names, nothing below the minimum group size), which units named it as a
critical need, and where people shared it as competence not in use.

No list here is ordered by mastery: the catalogue's order is the only order (mastery climate)."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Competence,
    CompetenceArea,
    CompetenceAssessment,
    CriticalNeed,
    Cycle,
    SharedCompetence,
    StrategyPeriod,
    Unit,
    UnitGoal,
    UnitGoalCompetence,
)
from aarshjul.domain.competence import MIN_GROUP_SIZE, tally
from aarshjul.domain.enums import MasteryLevel
from aarshjul.domain.errors import NotFound

_Model = ConfigDict(frozen=True)


class CatalogueCompetence(BaseModel):
    model_config = _Model
    id: int
    code: str
    name: str
    kind: str = Field(description="formal, realkompetanse or personal")
    description: str
    retired: bool = Field(description="Dropped from the catalogue file: kept for what points at it, not offered")


class CatalogueArea(BaseModel):
    """A competence area of the strategy, with the catalogue's competences under it."""

    model_config = _Model
    id: int
    code: str
    name: str
    main_goal: str
    competences: list[CatalogueCompetence]


class CompetenceCatalogue(BaseModel):
    model_config = _Model
    period_id: int
    period_name: str
    first_year: int
    last_year: int
    areas: list[CatalogueArea]


def _period(session: Session, period_id: int | None) -> StrategyPeriod:
    period = (
        session.get(StrategyPeriod, period_id)
        if period_id is not None
        else session.scalars(select(StrategyPeriod).order_by(StrategyPeriod.last_year.desc()).limit(1)).first()
    )
    if period is None:
        raise NotFound("no strategy period is loaded" if period_id is None else f"period {period_id} does not exist")
    return period


def competence_catalogue(
    session: Session, period_id: int | None = None, include_retired: bool = False
) -> CompetenceCatalogue:
    period = _period(session, period_id)
    areas = list(
        session.scalars(
            select(CompetenceArea).where(CompetenceArea.period_id == period.id).order_by(CompetenceArea.position)
        )
    )
    query = select(Competence).where(Competence.period_id == period.id).order_by(Competence.position, Competence.id)
    if not include_retired:
        query = query.where(Competence.retired.is_(False))
    by_area: dict[int, list[CatalogueCompetence]] = defaultdict(list)
    for c in session.scalars(query):
        by_area[c.area_id].append(
            CatalogueCompetence(
                id=c.id, code=c.code, name=c.name, kind=c.kind, description=c.description, retired=c.retired
            )
        )
    return CompetenceCatalogue(
        period_id=period.id,
        period_name=period.name,
        first_year=period.first_year,
        last_year=period.last_year,
        areas=[
            CatalogueArea(id=a.id, code=a.code, name=a.name, main_goal=a.main_goal, competences=by_area.get(a.id, []))
            for a in areas
        ],
    )


# --- the roll-up across units -------------------------------------------------------------------


class LevelCount(BaseModel):
    model_config = _Model
    level: str = Field(description="A level of the mastery scale, lowest first")
    count: int


class CompetenceRollUp(BaseModel):
    """One competence across the organisation in one cycle."""

    model_config = _Model
    competence_id: int
    code: str
    name: str
    area_name: str
    kind: str
    units_asking: int = Field(description="Units whose goals call for it (their mapping asks about it)")
    respondents: int = Field(description="People who assessed their mastery of it")
    hidden: bool = Field(description=f"True when fewer than {MIN_GROUP_SIZE} people answered: no counts are shown")
    levels: list[LevelCount] = Field(description="People per level of the mastery scale; empty when hidden")
    need_units: list[str] = Field(description="Units that named it as a critical competence need")
    strategies: dict[str, int] = Field(description="How many of those needs each competence strategy answers")
    shared_in_units: list[str] = Field(
        description="Units where someone shared it with their leader as competence not in use (who is not shown)"
    )


class CompetencePicture(BaseModel):
    model_config = _Model
    cycle_id: int
    year: int
    minimum_group_size: int
    competences: list[CompetenceRollUp]


def competence_roll_up(session: Session, cycle_id: int) -> CompetencePicture:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"cycle {cycle_id} does not exist")
    catalogue = competence_catalogue(session, cycle.period_id, include_retired=True)
    asking: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(UnitGoalCompetence.competence_id, func.count(distinct(UnitGoal.unit_id)))
            .join(UnitGoal, UnitGoal.id == UnitGoalCompetence.unit_goal_id)
            .where(UnitGoal.cycle_id == cycle.id, UnitGoal.retired.is_(False))
            .group_by(UnitGoalCompetence.competence_id)
        ).all()
    )
    levels: dict[int, list[str]] = defaultdict(list)
    for competence_id, level in session.execute(
        select(CompetenceAssessment.competence_id, CompetenceAssessment.level).where(
            CompetenceAssessment.cycle_id == cycle.id
        )
    ):
        levels[competence_id].append(level)
    need_units: dict[int, set[str]] = defaultdict(set)
    strategies: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for need_competence, strategy, unit_name in session.execute(
        select(CriticalNeed.competence_id, CriticalNeed.strategy, Unit.name)
        .join(Unit, Unit.id == CriticalNeed.unit_id)
        .where(
            CriticalNeed.cycle_id == cycle.id, CriticalNeed.retired.is_(False), CriticalNeed.competence_id.is_not(None)
        )
    ):
        if need_competence is not None:
            need_units[need_competence].add(unit_name)
            strategies[need_competence][strategy] += 1
    shared: dict[int, set[str]] = defaultdict(set)
    for shared_competence, unit_name in session.execute(
        select(SharedCompetence.competence_id, Unit.name)
        .join(Unit, Unit.id == SharedCompetence.unit_id)
        .where(SharedCompetence.cycle_id == cycle.id, SharedCompetence.competence_id.is_not(None))
    ):
        if shared_competence is not None:
            shared[shared_competence].add(unit_name)
    rows: list[CompetenceRollUp] = []
    for area in catalogue.areas:
        for c in area.competences:
            if not (asking.get(c.id) or levels.get(c.id) or need_units.get(c.id) or shared.get(c.id)):
                continue
            counted = tally(MasteryLevel, levels.get(c.id, []))
            rows.append(
                CompetenceRollUp(
                    competence_id=c.id,
                    code=c.code,
                    name=c.name,
                    area_name=area.name,
                    kind=c.kind,
                    units_asking=asking.get(c.id, 0),
                    respondents=counted.respondents,
                    hidden=counted.hidden,
                    levels=[LevelCount(level=level, count=count) for level, count in counted.counts],
                    need_units=sorted(need_units.get(c.id, set())),
                    strategies=dict(strategies.get(c.id, {})),
                    shared_in_units=sorted(shared.get(c.id, set())),
                )
            )
    return CompetencePicture(cycle_id=cycle.id, year=cycle.year, minimum_group_size=MIN_GROUP_SIZE, competences=rows)
