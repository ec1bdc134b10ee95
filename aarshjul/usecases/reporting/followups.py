"""Follow-up counts per unit for the board: how many are written and how many wait, never what they say."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import HumanTask
from aarshjul.domain.enums import TaskState
from aarshjul.domain.followups import (
    FOLLOW_UP_STEP_KEY,
)


@dataclass(frozen=True)
class FollowUpCounts:
    """How many follow-ups of a unit are done and how many wait: counts only, never contents."""

    done: int
    open: int


def follow_up_counts(session: Session, cycle_id: int) -> dict[int, FollowUpCounts]:
    """Per unit of a cycle: follow-ups submitted and follow-ups waiting, in one grouped query."""
    rows = session.execute(
        select(
            HumanTask.unit_id,
            func.sum(case((HumanTask.state == TaskState.SUBMITTED, 1), else_=0)),
            func.sum(case((HumanTask.state.in_([TaskState.OPEN, TaskState.RETURNED]), 1), else_=0)),
        )
        .where(HumanTask.cycle_id == cycle_id, HumanTask.step_key == FOLLOW_UP_STEP_KEY)
        .group_by(HumanTask.unit_id)
    ).all()
    return {unit_id: FollowUpCounts(int(done or 0), int(waiting or 0)) for unit_id, done, waiting in rows}
