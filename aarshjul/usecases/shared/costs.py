"""A measure's cost lines, read and replaced in the caller's transaction: the unit leader's proposal
writes them (work), HR adjusts them when approving (work) or on the plan (planning)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aarshjul.db.models import Measure, MeasureCost
from aarshjul.domain.planning import CostLine, checked_costs, nok


def costs_of(session: Session, measure_ids: Iterable[int]) -> dict[int, list[CostLine]]:
    ids = list(measure_ids)
    found: dict[int, list[CostLine]] = defaultdict(list)
    if not ids:
        return found
    rows = session.scalars(
        select(MeasureCost).where(MeasureCost.measure_id.in_(ids)).order_by(MeasureCost.measure_id, MeasureCost.id)
    )
    for row in rows:
        found[row.measure_id].append(CostLine(row.year, row.kind, nok(row.amount), row.funding, row.scheme))
    return found


def cost_facts(lines: Sequence[CostLine]) -> list[dict[str, Any]]:
    """Lines as the audit log keeps them (amounts as text, never floats)."""
    return [
        {"year": c.year, "kind": c.kind.value, "amount": str(c.amount), "funding": c.funding.value, "scheme": c.scheme}
        for c in lines
    ]


def replace_costs(session: Session, measure: Measure, lines: Sequence[CostLine], field: str = "costs") -> bool:
    """Check the lines against the measure's years (InvalidInput naming ``field``) and store them in
    place of the old ones. Returns whether anything changed."""
    checked = checked_costs(lines, measure.first_year, measure.last_year, field)
    before = costs_of(session, [measure.id]).get(measure.id, [])
    if sorted(cost_facts(before), key=str) == sorted(cost_facts(checked), key=str):
        return False
    session.execute(delete(MeasureCost).where(MeasureCost.measure_id == measure.id))
    session.add_all(
        MeasureCost(
            measure_id=measure.id, year=c.year, kind=c.kind, amount=c.amount, funding=c.funding, scheme=c.scheme
        )
        for c in checked
    )
    session.flush()
    return True
