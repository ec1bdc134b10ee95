"""Loading a task by its link, and what the person may do with it.

Opening a link never changes anything: mail scanners follow links."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    HumanTask,
    Submission,
)
from aarshjul.domain.enums import PRIVATE_FORMS, TALK_FORMS, CycleState, FormKey, TaskState
from aarshjul.domain.errors import DomainError, Forbidden
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.runtime import Runtime
from aarshjul.signing import BadToken, read_task_token
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.shared.privacy import may_read_talk

#: A decision is final; a changed proposal gets a new approval task (one per measure revision).
NOT_AMENDABLE = frozenset({FormKey.MEASURE_APPROVAL})


class LinkReason(StrEnum):
    """Why a link does not open a form for input."""

    INVALID = "invalid"  #: not a link we made, or its task is gone
    REPLACED = "replaced"  #: the task was given to someone else or a newer link was sent
    CANCELLED = "cancelled"  #: the task is no longer needed
    EXPIRED = "expired"  #: closed more than the grace period ago
    CLOSED = "closed"  #: closed recently: the receipt can be read, nothing can be changed


class LinkRefused(DomainError):
    def __init__(self, reason: LinkReason) -> None:
        self.reason = reason
        super().__init__(f"the link cannot be used: {reason.value}")


class Mode(StrEnum):
    """What the person can do with a task they opened."""

    EDIT = "edit"  #: open or returned: fill in, save a draft, submit
    AMEND = "amend"  #: submitted, still open for amendments (a new version)
    READ = "read"  #: closed, or a decision already made: a read-only receipt


# The task and its cycle in one statement (every link opened or posted reads both); FOR UPDATE locks
# the task's row only, when the caller is about to write a new version of it.
_TASK_AND_CYCLE = (
    select(HumanTask, Cycle).join(Cycle, Cycle.id == HumanTask.cycle_id).where(HumanTask.id == bindparam("task_id"))
)
_TASK_AND_CYCLE_LOCKED = _TASK_AND_CYCLE.with_for_update(of=HumanTask)


def task_by_link(session: Session, runtime: Runtime, token: str, lock: bool = False) -> tuple[HumanTask, Cycle]:
    """The task a link names, with its cycle; LinkRefused if the link is not (or no longer) good."""
    try:
        claims = read_task_token(runtime.settings.secret(), token)
    except BadToken as exc:
        raise LinkRefused(LinkReason.INVALID) from exc
    statement = _TASK_AND_CYCLE_LOCKED if lock else _TASK_AND_CYCLE
    found = session.execute(statement, {"task_id": claims.task_id}).first()
    if found is None:
        raise LinkRefused(LinkReason.INVALID)
    task, cycle = found
    if task.assignee_id != claims.assignee_id or task.link_version != claims.link_version:
        raise LinkRefused(LinkReason.REPLACED)
    return task, cycle


def mode_of(runtime: Runtime, task: HumanTask, cycle: Cycle, now: dt.datetime) -> Mode:
    if task.state == TaskState.CANCELLED:
        raise LinkRefused(LinkReason.CANCELLED)
    closed_at = task.closed_at
    # Evaluation and follow-up tasks outlive their cycle; a closed cycle closes only its step tasks.
    lives_on = task.step_key in LIVES_ON_STEP_KEYS
    if closed_at is None and cycle.state != CycleState.RUNNING and not lives_on:
        closed_at = cycle.closed_at or now
    if closed_at is not None:
        if task.submitted_at is not None and now - closed_at <= dt.timedelta(days=runtime.settings.link_grace_days):
            return Mode.READ
        raise LinkRefused(LinkReason.EXPIRED)
    if TaskState(task.state).is_actionable:
        return Mode.EDIT
    return Mode.READ if task.form_key in NOT_AMENDABLE else Mode.AMEND


def guard_privacy(session: Session, task: HumanTask, today: dt.date) -> None:
    if task.form_key in TALK_FORMS and not may_read_talk(session, task, task.assignee_id, today):
        raise Forbidden("talk notes are only for the employee and their leader")


def writable_task(session: Session, runtime: Runtime, token: str, now: dt.datetime) -> HumanTask:
    task, cycle = task_by_link(session, runtime, token, lock=True)
    mode = mode_of(runtime, task, cycle, now)
    if mode is Mode.READ:
        raise LinkRefused(LinkReason.CLOSED)
    guard_privacy(session, task, today_for(now, runtime.settings.zone))
    return task


def latest_version(session: Session, task_id: int, submitted_only: bool = False) -> Submission | None:
    """The newest version (or the newest submitted one) alone: a task may have many versions, and a
    caller that needs one should not load them all."""
    query = select(Submission).where(Submission.task_id == task_id)
    if submitted_only:
        query = query.where(Submission.is_draft.is_(False))
    return session.scalars(query.order_by(Submission.version.desc()).limit(1)).first()


_LAST_VERSION = select(func.coalesce(func.max(Submission.version), 0)).where(Submission.task_id == bindparam("task_id"))


def visible_versions(session: Session, task: HumanTask) -> Sequence[Row[int, bool, dt.datetime]]:
    """Version, draft flag and time of the versions the task's assignee may see: all of them, but for
    a private form only those they wrote themselves (reassigning a talk preparation hands over an empty
    form, never the employee's unshared draft). Only these columns: the data is read for one version."""
    query = select(Submission.version, Submission.is_draft, Submission.created_at).where(Submission.task_id == task.id)
    if task.form_key in PRIVATE_FORMS:
        query = query.where(Submission.submitted_by_id == task.assignee_id)
    return session.execute(query.order_by(Submission.version)).all()


def next_version(session: Session, task_id: int) -> int:
    return int(session.scalar(_LAST_VERSION, {"task_id": task_id}) or 0) + 1
