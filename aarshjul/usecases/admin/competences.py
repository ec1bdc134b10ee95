"""Loading the competence catalogue from a file (``aarshjul competences load``): one transaction, so a
bad file changes nothing and every problem names its line.

The catalogue belongs to a strategy period and its areas are the strategy's competence areas, named by
code. Loading a file again updates competences by code; one no longer in the file is retired (what
points at it keeps it), and one that comes back is offered again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Competence, CompetenceArea, StrategyPeriod
from aarshjul.domain.competence import CompetenceRow, read_catalogue_file, unknown_areas
from aarshjul.domain.errors import ImportProblem
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import audit


@dataclass(frozen=True)
class CatalogueLoadReport:
    period_id: int
    created: int
    updated: int
    retired: int

    def summary(self) -> str:
        return f"{self.created} new, {self.updated} updated, {self.retired} retired"


def newest_period(session: Session) -> StrategyPeriod | None:
    return session.scalars(select(StrategyPeriod).order_by(StrategyPeriod.last_year.desc()).limit(1)).first()


def load_competences(
    runtime: Runtime, path: Path, actor: str = "cli", period_id: int | None = None
) -> CatalogueLoadReport:
    """Read and check the file whole, then make the period's catalogue what it says."""
    rows = read_catalogue_file(path)
    with unit_of_work(runtime.sessions) as session:
        period = session.get(StrategyPeriod, period_id) if period_id is not None else newest_period(session)
        if period is None:
            raise ImportProblem([f"{path.name}: load the strategy first (aarshjul strategy load FILE)"])
        report = apply_catalogue(session, period, rows, path.name)
        audit(
            session,
            runtime.clock(),
            actor,
            "competences.load",
            "strategy_period",
            period.id,
            after={"source": path.name, "summary": report.summary()},
        )
    return report


def apply_catalogue(
    session: Session, period: StrategyPeriod, rows: tuple[CompetenceRow, ...], source: str
) -> CatalogueLoadReport:
    areas = {a.code: a.id for a in session.scalars(select(CompetenceArea).where(CompetenceArea.period_id == period.id))}
    problems = unknown_areas(rows, areas, source)
    if problems:
        raise ImportProblem(problems)
    existing = {c.code: c for c in session.scalars(select(Competence).where(Competence.period_id == period.id))}
    created = updated = 0
    for position, row in enumerate(rows):
        competence = existing.pop(row.code, None)
        if competence is None:
            competence = Competence(period_id=period.id, code=row.code, retired=False)
            session.add(competence)
            created += 1
        elif (competence.area_id, competence.name, competence.kind, competence.description, competence.retired) != (
            areas[row.area],
            row.name,
            row.kind,
            row.description,
            False,
        ):
            updated += 1
        competence.area_id, competence.name, competence.kind = areas[row.area], row.name, row.kind
        competence.description, competence.position, competence.retired = row.description, position, False
    retired = 0
    for stale in existing.values():
        if not stale.retired:
            stale.retired = True
            retired += 1
    session.flush()
    return CatalogueLoadReport(period.id, created, updated, retired)
