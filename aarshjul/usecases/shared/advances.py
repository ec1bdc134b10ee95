"""Advances owed: a change that can move a unit on (a submission, a decision) records, in its own
transaction, that the unit's advance is owed; the advance that does it clears the record. The trigger
that runs the advance at once may be lost (a restart, an unreachable Prefect server); the record is
not, and the sweep pays what is still owed. The same pattern as the mail outbox."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aarshjul.db.models import AdvanceRequest, Cycle
from aarshjul.domain.enums import CycleState

_REQUEST = cast(Table, AdvanceRequest.__table__)
_OWED = select(_REQUEST.c.unit_id, _REQUEST.c.requested).where(_REQUEST.c.cycle_id == bindparam("cycle_id"))
_OWED_IN = _OWED.where(_REQUEST.c.unit_id.in_(bindparam("unit_ids", expanding=True)))
_PAID = delete(_REQUEST).where(
    _REQUEST.c.cycle_id == bindparam("b_cycle"),
    _REQUEST.c.unit_id == bindparam("b_unit"),
    _REQUEST.c.requested == bindparam("b_requested"),
)


# Built once per dialect: every submission writes one (building and coercing it cost more than running it).
_OWE = {
    name: insert(_REQUEST)
    .values(cycle_id=bindparam("cycle_id"), unit_id=bindparam("unit_id"), requested=1)
    .on_conflict_do_update(index_elements=["cycle_id", "unit_id"], set_={"requested": _REQUEST.c.requested + 1})
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def owe_advance(session: Session, cycle_id: int, unit_id: int) -> None:
    """Record that the unit's advance is owed (again, if it already was)."""
    statement = _OWE[session.get_bind().dialect.name]
    session.connection().execute(statement, {"cycle_id": cycle_id, "unit_id": unit_id})


def owed(session: Session, cycle_id: int, unit_ids: Iterable[int] | None = None) -> dict[int, int]:
    """The units of the cycle whose advance is owed (all, or those of ``unit_ids``), with how often it
    was asked for."""
    connection = session.connection()
    if unit_ids is None:
        rows = connection.execute(_OWED, {"cycle_id": cycle_id})
    else:
        rows = connection.execute(_OWED_IN, {"cycle_id": cycle_id, "unit_ids": sorted(set(unit_ids))})
    return {row.unit_id: row.requested for row in rows}


def paid(session: Session, cycle_id: int, asked: dict[int, int]) -> None:
    """Clear what an advance did, unless it was asked for again since it read ``asked`` (that ask
    stays owed: the advance may not have seen what caused it)."""
    if asked:
        session.connection().execute(
            _PAID, [{"b_cycle": cycle_id, "b_unit": unit, "b_requested": times} for unit, times in asked.items()]
        )


def owe_full_reconcile(session: Session, organisation_id: int) -> None:
    """The next sweep reconciles every running cycle of the organisation in full (its people changed)."""
    session.execute(
        update(Cycle)
        .where(Cycle.organisation_id == organisation_id, Cycle.state == CycleState.RUNNING)
        .values(reconciled_on=None)
    )
