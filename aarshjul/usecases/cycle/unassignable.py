"""Remember the tasks the last advance of a cycle could not give to anyone, for HR's board and the
advance's Prefect artifact. The advance itself only reports them; this keeps the latest report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import UnassignableTask
from aarshjul.domain.progression import task_place
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import insert_for


def record_unassignable(runtime: Runtime, cycle_id: int, natural_keys: Sequence[str], now: dt.datetime) -> int:
    """Keep exactly these keys as the cycle's unassignable tasks (first-noticed times survive); returns how many."""
    places = {key: place for key in natural_keys if (place := task_place(key)) is not None}
    with unit_of_work(runtime.sessions) as session:
        session.execute(
            delete(UnassignableTask).where(
                UnassignableTask.cycle_id == cycle_id, UnassignableTask.natural_key.not_in(list(places))
            )
        )
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
