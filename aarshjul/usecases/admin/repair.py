"""Repair rows stored before the storable rules (``aarshjul.domain.storable``) were enforced at the
edges: a draft or a submission with ``NaN``, ``Infinity``, a lone surrogate or a NUL broke its task's
page for good. ``aarshjul db repair`` cleans every JSON value that breaks a rule, one transaction,
and records each changed row in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import AuditEvent, Base, Notification, PlanComment, Submission
from aarshjul.domain.storable import Unstorable, check, cleaned, cleaned_text, unstorable_text
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import audit

#: The columns people's input reaches: JSON documents and free text.
JSON_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    Submission.data,
    Notification.context,
    AuditEvent.before,
    AuditEvent.after,
)
TEXT_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (PlanComment.body,)


@dataclass
class RepairReport:
    repaired: dict[str, int] = field(default_factory=dict)  #: "table.column" -> rows changed

    @property
    def total(self) -> int:
        return sum(self.repaired.values())

    def __str__(self) -> str:
        if not self.total:
            return "nothing to repair"
        return ", ".join(f"{name}: {count}" for name, count in sorted(self.repaired.items()))


def _broken(value: Any) -> bool:
    try:
        check(value)
    except Unstorable:
        return True
    return False


def repair_stored_values(runtime: Runtime, actor: str = "cli") -> RepairReport:
    report = RepairReport()
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        for column in (*JSON_COLUMNS, *TEXT_COLUMNS):
            model = cast(type[Base], column.class_)
            name = f"{model.__tablename__}.{column.key}"
            is_text = column in TEXT_COLUMNS
            for row in session.scalars(select(model).where(column.is_not(None))):
                value = getattr(row, column.key)
                if is_text:
                    if not unstorable_text(value):
                        continue
                    setattr(row, column.key, cleaned_text(value))
                elif _broken(value):
                    setattr(row, column.key, cleaned(value))
                else:
                    continue
                report.repaired[name] = report.repaired.get(name, 0) + 1
                audit(
                    session,
                    now,
                    actor,
                    "repair.stored_value",
                    model.__tablename__,
                    getattr(row, "id", ""),
                    after={"column": column.key},
                )
    return report
