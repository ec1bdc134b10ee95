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
    Organisation,
    ShortLink,
    Submission,
    UnitStep,
)
from aarshjul.domain.enums import (
    PERSONAL_FORMS,
    PRIVATE_FORMS,
    TALK_FORMS,
    CycleState,
    FormKey,
    TaskState,
    UnitStepState,
)
from aarshjul.domain.errors import DomainError, Forbidden
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.runtime import Runtime
from aarshjul.signing import BadToken, TaskLinkClaims, read_task_token, task_url
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


class SignInNeeded(Forbidden):
    """The organisation opens its private talk forms only to their assignee signed in (single
    sign-on) as well as holding the link; ``signed_in`` is who is signed in now, if anyone."""

    def __init__(self, signed_in: int | None) -> None:
        self.signed_in = signed_in
        super().__init__("this form opens only for its assignee, signed in")


class Mode(StrEnum):
    """What the person can do with a task they opened."""

    EDIT = "edit"  #: open or returned: fill in, save a draft, submit
    AMEND = "amend"  #: submitted, still open for amendments (a new version)
    READ = "read"  #: closed, or a decision already made: a read-only receipt


# The task, its cycle and whether its organisation keeps talk forms for the signed-in assignee, in one
# statement (every link opened or posted reads them); FOR UPDATE locks the task's row only, when the
# caller is about to write a new version of it.
_TASK_AND_CYCLE = (
    select(HumanTask, Cycle, Organisation.talk_forms_need_sign_in)
    .join(Cycle, Cycle.id == HumanTask.cycle_id)
    .join(Organisation, Organisation.id == Cycle.organisation_id)
    .where(HumanTask.id == bindparam("task_id"))
)
_TASK_AND_CYCLE_LOCKED = _TASK_AND_CYCLE.with_for_update(of=HumanTask)


def task_by_link(
    session: Session, runtime: Runtime, token: str, signed_in: int | None, lock: bool = False
) -> tuple[HumanTask, Cycle]:
    """The task a link names, with its cycle; LinkRefused if the link is not (or no longer) good, and
    SignInNeeded for a talk form its organisation keeps for its assignee signed in when ``signed_in``
    (the person signed in in this browser) is not the assignee."""
    try:
        claims = read_task_token(runtime.settings.secret(), token)
    except BadToken as exc:
        raise LinkRefused(LinkReason.INVALID) from exc
    statement = _TASK_AND_CYCLE_LOCKED if lock else _TASK_AND_CYCLE
    found = session.execute(statement, {"task_id": claims.task_id}).first()
    if found is None:
        raise LinkRefused(LinkReason.INVALID)
    task, cycle, talk_forms_need_sign_in = found
    if task.assignee_id != claims.assignee_id or task.link_version != claims.link_version:
        raise LinkRefused(LinkReason.REPLACED)
    if task.form_key in TALK_FORMS and signed_in != task.assignee_id and talk_forms_need_sign_in:
        raise SignInNeeded(signed_in)
    return task, cycle


#: Short links are made by notifications/sms.py; nothing longer or stranger is looked up.
SHORT_CODE_MAX = 32


def resolve_short_link(runtime: Runtime, code: str) -> str:
    """Where a short link from an SMS (``/s/{code}``) leads: its task link, while that link works.
    Refused as the task link would be (replaced, cancelled, expired), so it dies with it."""
    if not code or len(code) > SHORT_CODE_MAX or not code.isascii():
        raise LinkRefused(LinkReason.INVALID)
    with runtime.sessions() as session:
        link = session.get(ShortLink, code)
        found = session.execute(_TASK_AND_CYCLE, {"task_id": link.task_id}).first() if link is not None else None
        if link is None or found is None:
            raise LinkRefused(LinkReason.INVALID)
        task, cycle, _ = found
        if task.assignee_id != link.assignee_id or task.link_version != link.link_version:
            raise LinkRefused(LinkReason.REPLACED)
        mode_of(session, runtime, task, cycle, runtime.clock())
    claims = TaskLinkClaims(link.task_id, link.assignee_id, link.link_version)
    return task_url(runtime.settings.base_url, runtime.settings.secret(), claims)


def mode_of(session: Session, runtime: Runtime, task: HumanTask, cycle: Cycle, now: dt.datetime) -> Mode:
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
    return Mode.READ if task.form_key in NOT_AMENDABLE or _aggregated(session, task) else Mode.AMEND


def _aggregated(session: Session, task: HumanTask) -> bool:
    """A competence mapping is settled once the whole unit's mapping is in: its leader has seen the
    counts, and a later change would show them who changed what."""
    if task.form_key != FormKey.COMPETENCE_MAPPING:
        return False
    state = session.scalar(
        select(UnitStep.state).where(
            UnitStep.cycle_id == task.cycle_id, UnitStep.unit_id == task.unit_id, UnitStep.step_key == task.step_key
        )
    )
    return state == UnitStepState.DONE


def guard_privacy(session: Session, task: HumanTask, today: dt.date) -> None:
    if task.form_key in PERSONAL_FORMS and not may_read_talk(session, task, task.assignee_id, today):
        raise Forbidden("talk notes are only for the employee and their leader")


def writable_task(session: Session, runtime: Runtime, token: str, now: dt.datetime, signed_in: int | None) -> HumanTask:
    task, cycle = task_by_link(session, runtime, token, signed_in, lock=True)
    mode = mode_of(session, runtime, task, cycle, now)
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
    # Through the connection: a Core statement needs none of the ORM's execution machinery.
    return int(session.connection().execute(_LAST_VERSION, {"task_id": task_id}).scalar() or 0) + 1
