"""What every capability reads of a cycle: its stored definition, its fixed dates, the local day."""

from __future__ import annotations

import datetime as dt
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.models import Cycle, CycleDefinitionRecord
from aarshjul.domain.cycle_spec import CycleDefinition, parse_definition

#: Definitions as parsed, by (key, version, content hash): a stored definition never changes, and
#: parsing one costs more than the rest of a unit's advance.
_PARSED: dict[tuple[str, int, str], CycleDefinition] = {}
_PARSED_KEPT = 32


_RECORD = cast(Table, CycleDefinitionRecord.__table__).c
_IDENTITY = select(_RECORD.key, _RECORD.version, _RECORD.sha256).where(_RECORD.id == bindparam("id"))


def cycle_definition(session: Session, cycle: Cycle) -> CycleDefinition:
    stored = session.connection().execute(_IDENTITY, {"id": cycle.definition_id}).first()
    if stored is None:  # a foreign key guards this; kept for a clear message on a damaged database
        raise LookupError(f"cycle {cycle.id} has no definition record")
    identity = (stored.key, stored.version, stored.sha256)
    definition = _PARSED.get(identity)
    if definition is None:
        content = session.scalar(
            select(CycleDefinitionRecord.content).where(CycleDefinitionRecord.id == cycle.definition_id)
        )
        definition = parse_definition(content or {}, f"cycle {cycle.id} definition")
        if len(_PARSED) >= _PARSED_KEPT:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[identity] = definition
    return definition


def step_due_dates(cycle: Cycle) -> dict[str, dt.date]:
    return {key: dt.date.fromisoformat(value) for key, value in cycle.step_due.items()}


def today_for(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    return local_date(now, zone)
