"""Coalescing triggers: one pending run per kind of work, however many times it is asked for.

Each kind of work (one cycle's advance, the dispatcher) has a counter of the runs that have begun
reading the data: ``entered``. A trigger reads the counter and asks Prefect for the run with the
idempotency key of that generation; Prefect creates it once and hands the same run to every later
trigger with that key. A run increments the counter before it reads anything (``enter``), so a
trigger that still sees the old value is answered by a run that has not read yet and will see what
the trigger's caller committed; a trigger after that gets a new run. A burst of submissions thus
makes at most one running and one waiting run, and none is missed.

A run that ended without entering (cancelled, crashed before it began) would swallow every later
trigger with its key; ``retire`` moves the counter past it. Each generation carries a random nonce
in its key, so after a restore from backup the counter's old values name no earlier run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import TriggerGeneration
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import insert_for


@dataclass(frozen=True)
class Generation:
    key: str
    entered: int
    nonce: str

    @property
    def idempotency_key(self) -> str:
        return f"{self.key}:{self.entered}:{self.nonce}"


def _nonce() -> str:
    return secrets.token_hex(8)


def pending_generation(runtime: Runtime, key: str) -> Generation:
    """The generation a trigger asks for now (created on first use)."""
    query = select(TriggerGeneration.entered, TriggerGeneration.nonce).where(TriggerGeneration.key == key)
    with runtime.sessions() as session:
        row = session.execute(query).first()
    if row is None:
        with unit_of_work(runtime.sessions) as session:
            session.execute(
                insert_for(session)(TriggerGeneration)
                .values(key=key, entered=0, nonce=_nonce())
                .on_conflict_do_nothing(index_elements=["key"])
            )
            row = session.execute(query).one()
    return Generation(key, row.entered, row.nonce)


def enter(runtime: Runtime, key: str) -> int:
    """A run is about to read the data: later triggers need a new run. Returns the new count."""
    with unit_of_work(runtime.sessions) as session:
        table = TriggerGeneration.__table__
        statement = (
            insert_for(session)(table)
            .values(key=key, entered=1, nonce=_nonce())
            .on_conflict_do_update(
                index_elements=[table.c.key], set_={"entered": table.c.entered + 1, "nonce": _nonce()}
            )
            .returning(table.c.entered)
        )
        return int(session.execute(statement).scalar_one())


def retire(runtime: Runtime, generation: Generation) -> bool:
    """Move past ``generation`` if it is still the pending one (its run ended without entering).

    False when a run entered meanwhile: that run reads after the caller's change, nothing to redo.
    """
    with unit_of_work(runtime.sessions) as session:
        moved = session.execute(
            update(TriggerGeneration)
            .where(
                TriggerGeneration.key == generation.key,
                TriggerGeneration.entered == generation.entered,
                TriggerGeneration.nonce == generation.nonce,
            )
            .values(entered=generation.entered + 1, nonce=_nonce())
            .returning(TriggerGeneration.key)
        ).first()
        return moved is not None
