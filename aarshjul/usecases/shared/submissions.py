"""The newest submitted version of a form, read by task work and by the personal-data export."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    HumanTask,
    Submission,
)


def latest_submitted(session: Session, cycle_id: int, form_key: str, subject_id: int | None) -> dict[str, Any] | None:
    """The newest submitted (not draft) data of a form in a cycle, for one employee."""
    row = session.scalars(
        select(Submission)
        .join(HumanTask, HumanTask.id == Submission.task_id)
        .where(
            HumanTask.cycle_id == cycle_id,
            HumanTask.form_key == form_key,
            HumanTask.subject_person_id == subject_id,
            Submission.is_draft.is_(False),
        )
        .order_by(Submission.created_at.desc(), Submission.id.desc())
        .limit(1)
    ).first()
    return dict(row.data) if row is not None else None
