"""Use cases: import the organisation, load the strategy, seed the demo organisation.

Each import is one transaction: a bad file changes nothing, a good one is applied whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    AuditEvent,
    Competence,
    CompetenceArea,
    CriticalNeed,
    Organisation,
    Person,
    StrategicGoal,
    StrategyPeriod,
    Unit,
    UnitGoal,
)
from aarshjul.domain.enums import Language
from aarshjul.domain.errors import ImportProblem
from aarshjul.domain.org_import import OrgDocument, StrategyDocument, read_org_file, read_strategy_file
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.competences import load_competences
from aarshjul.usecases.shared.advances import owe_full_reconcile
from aarshjul.usecases.shared.writes import ORGANISATION_LOCK, audit, serialize

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_ORG_FILE = DEMO_DIR / "org.csv"
DEMO_STRATEGY_FILE = DEMO_DIR / "strategy.yaml"
DEMO_COMPETENCES_FILE = DEMO_DIR / "competences.yaml"
DEMO_ORGANISATION_NAME = "Fjordvik kommune"


@dataclass
class OrgImportReport:
    units_created: int = 0
    units_updated: int = 0
    units_deactivated: int = 0
    people_created: int = 0
    people_updated: int = 0
    people_deactivated: int = 0
    people_reactivated: int = 0
    leavers: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"units: {self.units_created} new, {self.units_updated} updated, {self.units_deactivated} deactivated; "
            f"people: {self.people_created} new, {self.people_updated} updated, "
            f"{self.people_deactivated} deactivated, {self.people_reactivated} reactivated"
        )


@dataclass
class StrategyLoadReport:
    period_id: int
    goals: int
    areas: int
    created: bool


def get_organisation(session: Session) -> Organisation | None:
    return session.scalars(select(Organisation).order_by(Organisation.id).limit(1)).first()


def import_org(
    runtime: Runtime, path: Path, actor: str = "cli", organisation_name: str | None = None
) -> OrgImportReport:
    document = read_org_file(path)
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        serialize(session, ORGANISATION_LOCK)  # one writer of people and units at a time (SCIM writes too)
        report = apply_org(
            session,
            document,
            path.name,
            now,
            runtime.settings.zone,
            runtime.settings.default_language,
            organisation_name,
        )
        organisation = get_organisation(session)
        if organisation is not None:
            # New people, leavers and moved units change whose tasks are owed everywhere.
            owe_full_reconcile(session, organisation.id)
        session.add(
            AuditEvent(
                occurred_at=now,
                actor=actor,
                action="org.import",
                object_type="organisation",
                object_id=path.name,
                before=None,
                after={"summary": report.summary()},
            )
        )
    return report


def apply_org(
    session: Session,
    document: OrgDocument,
    source: str,
    now: dt.datetime,
    zone: ZoneInfo,
    default_language: Language,
    organisation_name: str | None = None,
) -> OrgImportReport:
    report = OrgImportReport()
    today = local_date(now, zone)
    organisation = get_organisation(session)
    name = organisation_name or document.organisation
    if organisation is None:
        organisation = Organisation(name=name or Path(source).stem)
        session.add(organisation)
        session.flush()
    elif name:
        organisation.name = name

    units = {u.code: u for u in session.scalars(select(Unit).where(Unit.organisation_id == organisation.id))}
    for unit_row in document.units:
        unit = units.get(unit_row.code)
        if unit is None:
            unit = Unit(organisation_id=organisation.id, code=unit_row.code, name=unit_row.name, active=True)
            session.add(unit)
            units[unit_row.code] = unit
            report.units_created += 1
        elif unit.name != unit_row.name or not unit.active:
            unit.name, unit.active = unit_row.name, True
            report.units_updated += 1
        else:
            unit.active = True
    session.flush()
    for unit_row in document.units:
        parent_id = units[unit_row.parent].id if unit_row.parent else None
        if units[unit_row.code].parent_id != parent_id:
            units[unit_row.code].parent_id = parent_id
            report.units_updated += 1
    file_units = {unit_row.code for unit_row in document.units}

    existing = list(session.scalars(select(Person).where(Person.organisation_id == organisation.id)))
    by_number = {p.employee_no: p for p in existing if p.employee_no}
    by_email = {p.email: p for p in existing}
    matched: dict[str, Person] = {}
    problems: list[str] = []
    for row in document.people:
        person = by_number.get(row.employee_no) if row.employee_no else None
        if person is None:
            person = by_email.get(row.email)
            if person is not None and row.employee_no and person.employee_no and person.employee_no != row.employee_no:
                problems.append(
                    f'{source} {row.where}: email "{row.email}" belongs to employee number {person.employee_no} '
                    f"in the database, not {row.employee_no}"
                )
                continue
        if person is None:
            person = Person(organisation_id=organisation.id, active_from=row.active_from or today)
            session.add(person)
            report.people_created += 1
        else:
            other = by_email.get(row.email)
            if other is not None and other is not person:
                problems.append(
                    f'{source} {row.where}: email "{row.email}" is already used by another person '
                    f"(employee number {other.employee_no or '-'})"
                )
                continue
            changed = (person.name, person.email, person.unit_id, person.role, person.language, person.mobile) != (
                row.name,
                row.email,
                units[row.unit].id,
                row.role,
                row.language or default_language,
                row.mobile,
            )
            if person.active_to is not None:
                report.people_reactivated += 1
                person.active_to = None
            elif changed:
                report.people_updated += 1
        person.employee_no = row.employee_no or person.employee_no
        person.name, person.email, person.role = row.name, row.email, row.role
        person.unit_id, person.mobile = units[row.unit].id, row.mobile
        person.language = row.language or default_language
        if row.active_from:
            person.active_from = row.active_from
        matched[row.email] = person
    if problems:
        raise ImportProblem(problems)
    session.flush()
    for row in document.people:
        matched[row.email].deputy_id = matched[row.deputy_email].id if row.deputy_email else None
    for unit_code, unit in units.items():
        leader = document.leader_of(unit_code) if unit_code in file_units else None
        unit.leader_id = matched[leader.email].id if leader else unit.leader_id
        if unit_code not in file_units and unit.active:
            unit.active = False
            report.units_deactivated += 1
    kept = {id(p) for p in matched.values()}
    leavers = [p for p in existing if id(p) not in kept and p.active_to is None]
    for person in leavers:
        # History stays: the row, its submissions and tasks remain; only the active period ends.
        person.active_to = today - dt.timedelta(days=1) if (person.active_from or today) < today else today
        report.people_deactivated += 1
        report.leavers.append(person.id)
    session.flush()
    if report.leavers:
        from aarshjul.usecases.admin.task_admin import handle_leavers

        # The leaver's own deputy is who takes over; it is read before anything else changes.
        handle_leavers(session, report.leavers, now, zone)
    for person in matched.values():
        if person.deputy_id is not None and person.deputy_id in report.leavers:
            person.deputy_id = None  # a deputy who has left can stand in for nobody
    return report


def load_strategy(runtime: Runtime, path: Path, actor: str = "cli") -> StrategyLoadReport:
    document = read_strategy_file(path)
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        organisation = get_organisation(session)
        if organisation is None:
            raise ImportProblem([f"{path.name}: import the organisation first (aarshjul org import FILE)"])
        report = apply_strategy(session, organisation, document)
        session.add(
            AuditEvent(
                occurred_at=now,
                actor=actor,
                action="strategy.load",
                object_type="strategy_period",
                object_id=str(report.period_id),
                before=None,
                after={"first_year": document.first_year, "last_year": document.last_year, "source": path.name},
            )
        )
    return report


def apply_strategy(session: Session, organisation: Organisation, document: StrategyDocument) -> StrategyLoadReport:
    period = session.scalars(
        select(StrategyPeriod).where(
            StrategyPeriod.organisation_id == organisation.id,
            StrategyPeriod.first_year == document.first_year,
            StrategyPeriod.last_year == document.last_year,
        )
    ).first()
    created = period is None
    if period is None:
        overlapping = session.scalars(
            select(StrategyPeriod).where(
                StrategyPeriod.organisation_id == organisation.id,
                StrategyPeriod.first_year <= document.last_year,
                StrategyPeriod.last_year >= document.first_year,
            )
        ).first()
        if overlapping is not None:
            raise ImportProblem(
                [
                    f"strategy period {document.first_year}–{document.last_year} overlaps the loaded period "
                    f"{overlapping.first_year}–{overlapping.last_year}; give the same years to update it"
                ]
            )
        period = StrategyPeriod(
            organisation_id=organisation.id,
            name=document.name,
            first_year=document.first_year,
            last_year=document.last_year,
        )
        session.add(period)
        session.flush()
    period.name = document.name
    goals = {g.code: g for g in session.scalars(select(StrategicGoal).where(StrategicGoal.period_id == period.id))}
    for position, row in enumerate(document.goals):
        goal = goals.pop(row.code, None) or StrategicGoal(period_id=period.id, code=row.code)
        goal.title, goal.description, goal.position = row.title, row.description, position
        session.add(goal)
    used_goals = set(session.scalars(select(UnitGoal.strategic_goal_id)))
    for stale in goals.values():
        if stale.id not in used_goals:
            session.delete(stale)
    areas = {a.code: a for a in session.scalars(select(CompetenceArea).where(CompetenceArea.period_id == period.id))}
    for position, area_row in enumerate(document.areas):
        area = areas.pop(area_row.code, None) or CompetenceArea(period_id=period.id, code=area_row.code)
        area.name, area.main_goal, area.position = area_row.name, area_row.main_goal, position
        session.add(area)
    used_areas = set(session.scalars(select(CriticalNeed.competence_area_id))) | set(
        session.scalars(select(Competence.area_id))
    )
    for stale_area in areas.values():
        if stale_area.id not in used_areas:
            session.delete(stale_area)
    session.flush()
    return StrategyLoadReport(period.id, len(document.goals), len(document.areas), created)


DEMO_MARK = "demo.database_created"


def seed_demo(runtime: Runtime) -> bool:
    """Load the demo organisation, strategy and competence catalogue if the database has no organisation yet.

    The database is marked as the demo's first, in its own transaction, so ``created_by_demo``
    knows it even if loading stops half-way."""
    with unit_of_work(runtime.sessions) as session:
        if get_organisation(session) is not None:
            return False
        audit(session, runtime.clock(), "demo", DEMO_MARK, "database", "")
    import_org(runtime, DEMO_ORG_FILE, actor="demo", organisation_name=DEMO_ORGANISATION_NAME)
    load_strategy(runtime, DEMO_STRATEGY_FILE, actor="demo")
    load_competences(runtime, DEMO_COMPETENCES_FILE, actor="demo")
    return True


def created_by_demo(runtime: Runtime) -> bool:
    """Whether ``--demo`` may use this database: it is empty, or ``seed_demo`` created it."""
    with runtime.sessions() as session:
        if get_organisation(session) is None:
            return True
        return session.scalars(select(AuditEvent.id).where(AuditEvent.action == DEMO_MARK).limit(1)).first() is not None
