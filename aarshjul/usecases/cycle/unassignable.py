"""Remember the tasks the last advance of a cycle could not give to anyone, for HR's board and the
advance's Prefect artifact. The advance keeps them in its own transaction, for the units it planned."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.orm import Session

from aarshjul.db.models import UnassignableTask
from aarshjul.domain.progression import task_place
from aarshjul.usecases.shared.writes import insert_for

# Built once: every advance, scoped ones included, keeps its units' list.
_KEPT = cast(Table, UnassignableTask.__table__).c
_GONE = delete(cast(Table, UnassignableTask.__table__)).where(
    _KEPT.cycle_id == bindparam("cycle_id"), _KEPT.natural_key.not_in(bindparam("keys", expanding=True))
)
_GONE_IN = _GONE.where(_KEPT.unit_id.in_(bindparam("unit_ids", expanding=True)))


def keep_unassignable(
    session: Session, cycle_id: int, units: Sequence[int] | None, natural_keys: Sequence[str], now: dt.datetime
) -> int:
    """Keep exactly these keys as the unassignable tasks of the cycle's ``units`` (None: the whole
    cycle); other units' entries stay as their last advance left them, and first-noticed times survive.
    Returns how many were kept."""
    places = {key: place for key in natural_keys if (place := task_place(key)) is not None}
    params = {"cycle_id": cycle_id, "keys": sorted(places)}
    if units is None:
        session.connection().execute(_GONE, params)
    else:
        session.connection().execute(_GONE_IN, {**params, "unit_ids": sorted(units)})
    if places:
        session.execute(
            insert_for(session)(UnassignableTask)
            .values(
                [
                    {
                        "cycle_id": cycle_id,
                        "natural_key": key,
                        "unit_id": place.unit_id,
                        "step_key": place.step_key,
                        "part_key": place.part_key,
                        "noticed_at": now,
                    }
                    for key, place in places.items()
                ]
            )
            .on_conflict_do_nothing(index_elements=["cycle_id", "natural_key"])
        )
    return len(places)
