"""What every capability reads of a cycle: its stored definition, its fixed dates, the local day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.models import Cycle, CycleDefinitionRecord
from aarshjul.domain.cycle_spec import CycleDefinition, parse_definition


def cycle_definition(session: Session, cycle: Cycle) -> CycleDefinition:
    record = session.get(CycleDefinitionRecord, cycle.definition_id)
    if record is None:  # a foreign key guards this; kept for a clear message on a damaged database
        raise LookupError(f"cycle {cycle.id} has no definition record")
    return parse_definition(record.content, f"cycle {cycle.id} definition")


def step_due_dates(cycle: Cycle) -> dict[str, dt.date]:
    return {key: dt.date.fromisoformat(value) for key, value in cycle.step_due.items()}


def today_for(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    return local_date(now, zone)
