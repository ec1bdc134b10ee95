"""The organisation tree as the board shows it: depth-first order and subtrees."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    Unit,
    UnitStep,
)


class _UnitInfo:
    __slots__ = ("id", "code", "name", "parent_id", "leader_id", "active")

    def __init__(self, row: Any) -> None:
        self.id: int = row.id
        self.code: str = row.code
        self.name: str = row.name
        self.parent_id: int | None = row.parent_id
        self.leader_id: int | None = row.leader_id
        self.active: bool = bool(row.active)


def tree_order(units: Iterable[_UnitInfo]) -> list[tuple[_UnitInfo, int]]:
    """Units depth-first (parents before children, siblings by name) with their depth."""
    by_id = {u.id: u for u in units}
    children: dict[int | None, list[_UnitInfo]] = defaultdict(list)
    for unit in by_id.values():
        parent = unit.parent_id if unit.parent_id in by_id else None
        children[parent].append(unit)
    for siblings in children.values():
        siblings.sort(key=lambda u: (u.name.lower(), u.id))
    ordered: list[tuple[_UnitInfo, int]] = []
    stack: list[tuple[_UnitInfo, int]] = [(u, 0) for u in reversed(children[None])]
    seen: set[int] = set()
    while stack:
        unit, depth = stack.pop()
        if unit.id in seen:
            continue
        seen.add(unit.id)
        ordered.append((unit, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(unit.id, [])))
    return ordered


def subtree(units: Iterable[_UnitInfo], root_id: int) -> set[int]:
    children: dict[int | None, list[int]] = defaultdict(list)
    for unit in units:
        children[unit.parent_id].append(unit.id)
    found: set[int] = set()
    stack = [root_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return found


def _units(session: Session, cycle: Cycle) -> list[_UnitInfo]:
    in_cycle = select(UnitStep.unit_id).where(UnitStep.cycle_id == cycle.id).distinct()
    rows = session.connection().execute(
        select(Unit.id, Unit.code, Unit.name, Unit.parent_id, Unit.leader_id, Unit.active).where(
            Unit.organisation_id == cycle.organisation_id, (Unit.active.is_(True)) | Unit.id.in_(in_cycle)
        )
    )
    return [_UnitInfo(r) for r in rows]
