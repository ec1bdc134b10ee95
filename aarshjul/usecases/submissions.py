"""The write side of the forms: open a task by its link, save a draft, submit or amend, HR's decision.

Each use case is one transaction. A submission is a new version of the task's data (earlier versions
are kept) and its items are projected into rows later steps point at (unit goals, critical needs,
measures) in the same transaction; ids stay stable across amendments and rows dropped in a newer
version are retired. After a submission commits, the advance of the cycle is triggered without
waiting for it. Opening a link never changes anything: mail scanners follow links.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    CriticalNeed,
    Cycle,
    HumanTask,
    Measure,
    Person,
    Submission,
    Unit,
    UnitGoal,
)
from aarshjul.domain.cycle_spec import LocalizedText
from aarshjul.domain.enums import CycleState, MeasureState, Role, TaskState
from aarshjul.domain.errors import Conflict, DomainError, Forbidden, NotFound
from aarshjul.domain.followups import FOLLOW_UP_FORM, FOLLOW_UP_NAME, FOLLOW_UP_STEP_KEY, LIVES_ON_STEP_KEYS
from aarshjul.links import BadLink, read_token
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle_support import audit, cycle_definition, load_org, message_to, today_for
from aarshjul.usecases.followups import project_follow_up
from aarshjul.usecases.form_context import FormContextView, task_inputs
from forms.fields import FormModel, FormProblem, FormRules
from forms.models import (
    TALK_TIME_FIELDS,
    MeasureApprovalForm,
    MeasureDecision,
    MeasureProposalForm,
    NeedItem,
    NeedsMappingForm,
    TalkRecordForm,
    TalkSlot,
    TalkTime,
    UnitGoalItem,
    UnitGoalsForm,
)
from forms.registry import TALK_FORMS, FormRejected, validate_form, validate_form_part
from notifications.outbox import enqueue_many
from notifications.summaries import queue_talk_invitations

APPROVAL_FORM = "measure_approval"
PROPOSAL_FORM = "measure_proposal"
EVALUATION_FORM = "measure_evaluation"
RECORD_FORM = "talk_record"
#: A decision is final; a changed proposal gets a new approval task (one per measure revision).
NOT_AMENDABLE = frozenset({APPROVAL_FORM})
#: Forms whose submission queues mail itself (a returned measure, a follow-up the employee may read);
#: the advance that follows dispatches only the invitations it queues.
MAILING_FORMS = frozenset({APPROVAL_FORM, FOLLOW_UP_FORM, RECORD_FORM})
#: Measures that keep their critical need in the chain: the need may not be dropped under them.
CHAIN_MEASURES = frozenset({MeasureState.PROPOSED, MeasureState.APPROVED, MeasureState.RETURNED})
EVALUATION_NAME = LocalizedText(nb="Evaluering av tiltak", en="Measure evaluation")


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


@dataclass(frozen=True)
class VersionInfo:
    version: int
    is_draft: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class TaskInfo:
    id: int
    cycle_id: int
    cycle_year: int
    form_key: str
    step_key: str
    step_number: int | None
    step_name: LocalizedText
    part_name: LocalizedText
    unit_name: str
    assignee_name: str
    subject_name: str | None
    due_on: dt.date
    state: str
    submitted_at: dt.datetime | None
    mode: Mode
    first_year: int
    last_year: int


@dataclass(frozen=True)
class OpenedTask:
    task: TaskInfo
    context: FormContextView
    rules: FormRules
    choices: dict[str, list[tuple[int, str]]]
    data: dict[str, Any]  #: the newest version (draft or not), or empty
    data_is_draft: bool
    submitted_data: dict[str, Any]  #: the newest submitted version, or empty
    submitted: VersionInfo | None  #: the newest submitted version
    versions: list[VersionInfo]


@dataclass(frozen=True)
class Receipt:
    task_id: int
    version: int
    submitted_at: dt.datetime
    state: str
    repeated: bool = False  #: the same data was already submitted; nothing new was stored
    invited: bool = False  #: a (new or changed) time of the talk went out as a calendar invitation


@dataclass(frozen=True)
class DraftReceipt:
    task_id: int
    version: int
    saved_at: dt.datetime
    invited: bool = False  #: a (new or changed) time of the talk went out as a calendar invitation


# --- loading a task by its link -------------------------------------------------------------------


def _task_by_link(session: Session, runtime: Runtime, token: str, lock: bool = False) -> HumanTask:
    try:
        claims = read_token(runtime.settings.secret(), token)
    except BadLink as exc:
        raise LinkRefused(LinkReason.INVALID) from exc
    task = session.get(HumanTask, claims.task_id, with_for_update=lock)
    if task is None:
        raise LinkRefused(LinkReason.INVALID)
    if task.assignee_id != claims.assignee_id or task.link_version != claims.link_version:
        raise LinkRefused(LinkReason.REPLACED)
    return task


def _mode(session: Session, runtime: Runtime, task: HumanTask, now: dt.datetime) -> Mode:
    if task.state == TaskState.CANCELLED.value:
        raise LinkRefused(LinkReason.CANCELLED)
    cycle = session.get(Cycle, task.cycle_id)
    closed_at = task.closed_at
    # Evaluation and follow-up tasks outlive their cycle; a closed cycle closes only its step tasks.
    lives_on = task.step_key in LIVES_ON_STEP_KEYS
    if closed_at is None and cycle is not None and cycle.state != CycleState.RUNNING.value and not lives_on:
        closed_at = cycle.closed_at or now
    if closed_at is not None:
        if task.submitted_at is not None and now - closed_at <= dt.timedelta(days=runtime.settings.link_grace_days):
            return Mode.READ
        raise LinkRefused(LinkReason.EXPIRED)
    if TaskState(task.state).is_actionable:
        return Mode.EDIT
    return Mode.READ if task.form_key in NOT_AMENDABLE else Mode.AMEND


def may_read_talk(session: Session, task: HumanTask, viewer_id: int, today: dt.date) -> bool:
    """Talk notes are for the employee and their leader only; never HR or another leader."""
    subject = task.subject_person_id
    if subject is None or viewer_id == subject:
        return viewer_id == subject
    viewer = session.get(Person, viewer_id)
    if viewer is None or viewer.role == Role.HR.value:
        return False
    cycle = session.get(Cycle, task.cycle_id)
    if cycle is None:
        return False
    org, _contacts = load_org(session, cycle.organisation_id, today)
    return viewer_id in (org.manager_of(subject), org.acting_leader(task.unit_id))


def _guard_privacy(session: Session, task: HumanTask, today: dt.date) -> None:
    if task.form_key in TALK_FORMS and not may_read_talk(session, task, task.assignee_id, today):
        raise Forbidden("talk notes are only for the employee and their leader")


def _versions(session: Session, task_id: int) -> list[Submission]:
    return list(session.scalars(select(Submission).where(Submission.task_id == task_id).order_by(Submission.version)))


def _names(session: Session, task: HumanTask, cycle: Cycle) -> tuple[int | None, LocalizedText, LocalizedText]:
    definition = cycle_definition(session, cycle)
    try:
        step = definition.step(task.step_key)
        return step.number, step.name, step.part(task.part_key).name
    except KeyError:
        if task.step_key == FOLLOW_UP_STEP_KEY:
            return None, FOLLOW_UP_NAME, FOLLOW_UP_NAME
        return None, EVALUATION_NAME, EVALUATION_NAME


def open_task(runtime: Runtime, token: str) -> OpenedTask:
    """Everything the form of a link shows. Reads only."""
    now = runtime.clock()
    today = today_for(now, runtime.settings.zone)
    with runtime.sessions() as session:
        task = _task_by_link(session, runtime, token)
        mode = _mode(session, runtime, task, now)
        _guard_privacy(session, task, today)
        inputs = task_inputs(session, task, today)
        if task.form_key == "goal_breakdown" and not may_read_talk(session, task, task.assignee_id, today):
            inputs.context.record = None
        cycle = session.get(Cycle, task.cycle_id)
        unit = session.get(Unit, task.unit_id)
        assignee = session.get(Person, task.assignee_id)
        subject = session.get(Person, task.subject_person_id) if task.subject_person_id else None
        if cycle is None or unit is None or assignee is None:  # foreign keys guard these
            raise NotFound(f"task {task.id} is incomplete")
        number, step_name, part_name = _names(session, task, cycle)
        versions = _versions(session, task.id)
        submitted = next((v for v in reversed(versions) if not v.is_draft), None)
        latest = versions[-1] if versions else None
        info = TaskInfo(
            id=task.id,
            cycle_id=cycle.id,
            cycle_year=cycle.year,
            form_key=task.form_key,
            step_key=task.step_key,
            step_number=number,
            step_name=step_name,
            part_name=part_name,
            unit_name=unit.name,
            assignee_name=assignee.name,
            subject_name=subject.name if subject else None,
            due_on=task.due_on,
            state=task.state,
            submitted_at=task.submitted_at,
            mode=mode,
            first_year=inputs.rules.first_year,
            last_year=inputs.rules.last_year,
        )
        return OpenedTask(
            task=info,
            context=inputs.context,
            rules=inputs.rules,
            choices=inputs.choices,
            data=dict(latest.data) if latest is not None else {},
            data_is_draft=bool(latest.is_draft) if latest is not None else False,
            submitted_data=dict(submitted.data) if submitted is not None else {},
            submitted=VersionInfo(submitted.version, False, submitted.created_at) if submitted else None,
            versions=[VersionInfo(v.version, v.is_draft, v.created_at) for v in versions],
        )


# --- drafts and submissions -----------------------------------------------------------------------


def fingerprint(data: Any) -> str:
    """What a version says, leaving out the ids the system filled in, so a double click (same input,
    no ids yet) is recognised as the submission it repeats."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "id"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    text = json.dumps(strip(data), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _next_version(session: Session, task_id: int) -> int:
    return (
        int(
            session.scalar(select(func.coalesce(func.max(Submission.version), 0)).where(Submission.task_id == task_id))
            or 0
        )
        + 1
    )


def _writable(session: Session, runtime: Runtime, token: str, now: dt.datetime) -> HumanTask:
    task = _task_by_link(session, runtime, token, lock=True)
    mode = _mode(session, runtime, task, now)
    if mode is Mode.READ:
        raise LinkRefused(LinkReason.CLOSED)
    _guard_privacy(session, task, today_for(now, runtime.settings.zone))
    return task


def save_draft(runtime: Runtime, token: str, data: dict[str, Any]) -> DraftReceipt:
    """Keep unfinished input as a draft version; it is not checked and changes no state, except
    the time of a talk: a draft of the record books the talk, so that part is checked and sent."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        task = _writable(session, runtime, token, now)
        versions = _versions(session, task.id)
        if versions and versions[-1].is_draft and versions[-1].data == data:
            return DraftReceipt(task.id, versions[-1].version, versions[-1].created_at)
        version = _next_version(session, task.id)
        invited = False
        if task.form_key == RECORD_FORM:
            inputs = task_inputs(session, task, today_for(now, runtime.settings.zone))
            when = cast(TalkTime, validate_form_part(TalkTime, data, TALK_TIME_FIELDS, inputs.rules))
            invited = _book_talk(session, runtime, task, when, version, now)
        session.add(
            Submission(
                task_id=task.id,
                version=version,
                is_draft=True,
                data=data,
                submitted_by_id=task.assignee_id,
                created_at=now,
            )
        )
        receipt = DraftReceipt(task.id, version, now, invited)
    if receipt.invited:
        runtime.triggers.dispatch()
    return receipt


def submit_form(runtime: Runtime, token: str, data: Any) -> Receipt:
    """Check the input against the form and the task's rules, store it as a new version, project it.

    Raises ``FormRejected`` (nothing stored) or ``LinkRefused`` (the task no longer takes input).
    """
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        task = _writable(session, runtime, token, now)
        inputs = task_inputs(session, task, today_for(now, runtime.settings.zone))
        form = validate_form(task.form_key, data, inputs.rules)
        receipt = _record(session, runtime, task, form, task.assignee_id, now)
        cycle_id, form_key = task.cycle_id, task.form_key
    if not receipt.repeated:
        runtime.triggers.advance(cycle_id)
        if form_key in MAILING_FORMS:
            runtime.triggers.dispatch()
    return receipt


def _record(
    session: Session,
    runtime: Runtime,
    task: HumanTask,
    form: FormModel,
    actor_id: int,
    now: dt.datetime,
) -> Receipt:
    data = form.model_dump(mode="json")
    if task.state == TaskState.SUBMITTED.value:
        latest = next((v for v in reversed(_versions(session, task.id)) if not v.is_draft), None)
        if latest is not None and fingerprint(latest.data) == fingerprint(data):
            return Receipt(task.id, latest.version, latest.created_at, task.state, repeated=True)
    project = PROJECTIONS.get(task.form_key)
    if project is not None:
        data = project(session, runtime, task, form, now, actor_id)
    version = _next_version(session, task.id)
    invited = False
    if isinstance(form, TalkRecordForm):
        invited = _book_talk(session, runtime, task, form, version, now)
    session.add(
        Submission(
            task_id=task.id, version=version, is_draft=False, data=data, submitted_by_id=actor_id, created_at=now
        )
    )
    before = task.state
    task.state = TaskState.SUBMITTED.value
    task.submitted_at = now
    audit(
        session,
        now,
        f"person:{actor_id}",
        "task.submit" if before != TaskState.SUBMITTED.value else "task.amend",
        "task",
        task.id,
        before={"state": before},
        after={"state": task.state, "version": version},
    )
    session.flush()
    return Receipt(task.id, version, now, task.state, invited=invited)


# --- the agreed time of a talk ----------------------------------------------------------------------


def _booked_slot(session: Session, runtime: Runtime, task: HumanTask, rules: FormRules) -> TalkSlot | None:
    """The time the newest version (draft or not) of the record booked, if any."""
    versions = _versions(session, task.id)
    if not versions:
        return None
    try:
        when = validate_form_part(TalkTime, versions[-1].data, TALK_TIME_FIELDS, rules)
    except FormRejected:  # a draft from before the time was checked
        return None
    return cast(TalkTime, when).slot(runtime.settings.zone)


def _book_talk(
    session: Session, runtime: Runtime, task: HumanTask, when: TalkTime, version: int, now: dt.datetime
) -> bool:
    """A new or changed time of the talk must lie ahead and in the cycle's year; both people get a
    calendar invitation, its SEQUENCE the version that booked it, so a calendar updates the event
    it has (the UID is the task's). An unchanged time is neither checked again (the record is
    submitted after the talk) nor sent again."""
    zone = runtime.settings.zone
    slot = when.slot(zone)
    cycle = session.get(Cycle, task.cycle_id)
    if slot is None or cycle is None:
        return False
    inputs = task_inputs(session, task, today_for(now, zone))
    if slot == _booked_slot(session, runtime, task, inputs.rules):
        return False
    problems: list[FormProblem] = []
    local = slot.starts_at.astimezone(zone)
    if local.year != cycle.year:
        problems.append(FormProblem(("talk_on",), "talk_outside_year", {"year": cycle.year}))
    elif slot.starts_at <= now:
        past_day = local.date() < today_for(now, zone)
        problems.append(FormProblem(("talk_on",) if past_day else ("talk_at",), "talk_in_past"))
    if problems:
        raise FormRejected(problems)
    queued = queue_talk_invitations(session, task.id, slot.starts_at, slot.ends_at, slot.place, now, sequence=version)
    return queued > 0


# --- projections: what a submitted form makes of the rows later steps point at --------------------


class _Item(Protocol):
    id: int | None


_Projected = TypeVar("_Projected", UnitGoal, CriticalNeed)
_ItemT = TypeVar("_ItemT", bound=_Item)


def _sync_unit_rows(
    session: Session,
    task: HumanTask,
    model: type[_Projected],
    items: list[_ItemT],
    fill: Callable[[_Projected, _ItemT], None],
) -> None:
    """One row of the task's unit per item, matched by the item's id so ids stay stable across
    amendments; each item learns its row's id, and rows no item names any more are retired."""
    existing = {
        row.id: row
        for row in session.scalars(select(model).where(model.cycle_id == task.cycle_id, model.unit_id == task.unit_id))
    }
    kept: set[int] = set()
    for item in items:
        row = existing.get(item.id) if item.id is not None else None
        if row is None:
            row = model(cycle_id=task.cycle_id, unit_id=task.unit_id)
            session.add(row)
        fill(row, item)
        row.retired = False
        session.flush()
        item.id = row.id
        kept.add(row.id)
    for row in existing.values():
        if row.id not in kept:
            row.retired = True


def _refuse_dropping_used(
    session: Session, task: HumanTask, list_name: str, kept: int, used: dict[int, list[str]], problem: str, by: str
) -> None:
    """Principle 1: the chain is checked. A row that something live still points at may not be
    dropped; the refusal puts the dropped rows back (from the last submitted version) after the
    ``kept`` rows of the list and ties each problem to its row there, naming what uses it."""
    if not used:
        return
    previous = next((v.data for v in reversed(_versions(session, task.id)) if not v.is_draft), {})
    earlier = {r.get("id"): r for r in previous.get(list_name, []) if isinstance(r, dict)}
    problems: list[FormProblem] = []
    restore: list[dict[str, Any]] = []
    for row_id, users in sorted(used.items()):
        problems.append(FormProblem((list_name, kept + len(restore)), problem, {by: "», «".join(sorted(users))}))
        restore.append(dict(earlier.get(row_id, {"id": row_id})))
    raise FormRejected(problems, restore={list_name: restore})


def _project_unit_goals(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    form = cast(UnitGoalsForm, form)
    named = {g.id for g in form.goals if g.id is not None}
    needs = session.execute(
        select(CriticalNeed.unit_goal_id, CriticalNeed.title)
        .join(UnitGoal, UnitGoal.id == CriticalNeed.unit_goal_id)
        .where(
            UnitGoal.cycle_id == task.cycle_id,
            UnitGoal.unit_id == task.unit_id,
            UnitGoal.retired.is_(False),
            CriticalNeed.retired.is_(False),
        )
    ).all()
    used: dict[int, list[str]] = {}
    for goal_id, title in needs:
        if goal_id not in named:
            used.setdefault(goal_id, []).append(title)
    _refuse_dropping_used(session, task, "goals", len(form.goals), used, "goal_in_use", "need")

    def fill(row: UnitGoal, item: UnitGoalItem) -> None:
        row.strategic_goal_id, row.title, row.priority = item.strategic_goal_id, item.title, item.priority
        row.indicator, row.target = item.indicator, item.target

    _sync_unit_rows(session, task, UnitGoal, form.goals, fill)
    return form.model_dump(mode="json")


def _project_needs(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    form = cast(NeedsMappingForm, form)
    named = {n.id for n in form.needs if n.id is not None}
    measures = session.execute(
        select(Measure.critical_need_id, Measure.title)
        .join(CriticalNeed, CriticalNeed.id == Measure.critical_need_id)
        .where(
            CriticalNeed.cycle_id == task.cycle_id,
            CriticalNeed.unit_id == task.unit_id,
            CriticalNeed.retired.is_(False),
            Measure.state.in_([s.value for s in CHAIN_MEASURES]),
        )
    ).all()
    used: dict[int, list[str]] = {}
    for need_id, title in measures:
        if need_id not in named:
            used.setdefault(need_id, []).append(title)
    _refuse_dropping_used(session, task, "needs", len(form.needs), used, "need_in_use", "measure")

    def fill(row: CriticalNeed, item: NeedItem) -> None:
        row.unit_goal_id, row.competence_area_id, row.title = item.unit_goal_id, item.competence_area_id, item.title
        row.kind, row.strategy = item.kind.value, item.strategy.value
        row.level_needed, row.level_today = item.level_needed, item.level_today
        row.passive_competence = item.passive_competence

    _sync_unit_rows(session, task, CriticalNeed, form.needs, fill)
    return form.model_dump(mode="json")


_MEASURE_FIELDS = (
    "critical_need_id",
    "title",
    "target_group",
    "desired_effect",
    "success_criteria",
    "learning_goals",
    "learning_form",
    "form_and_content",
    "evaluation_method",
    "evaluate_on",
    "first_year",
    "last_year",
)


def _project_measures(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    """A new or changed measure waits for HR (a changed one as a new revision); a measure HR
    returned goes back to HR when the proposal is submitted again; a dropped one is withdrawn."""
    form = cast(MeasureProposalForm, form)
    existing = {
        m.id: m
        for m in session.scalars(
            select(Measure).where(Measure.cycle_id == task.cycle_id, Measure.unit_id == task.unit_id)
        )
    }
    kept: set[int] = set()
    for item in form.measures:
        values = {name: getattr(item, name) for name in _MEASURE_FIELDS}
        values["learning_form"] = item.learning_form.value
        row = existing.get(item.id) if item.id is not None else None
        if row is None:
            row = Measure(
                cycle_id=task.cycle_id,
                unit_id=task.unit_id,
                owner_id=task.assignee_id,
                state=MeasureState.PROPOSED.value,
                revision=1,
                hr_comment="",
                **values,
            )
            session.add(row)
        else:
            changed = any(getattr(row, k) != v for k, v in values.items())
            if row.state == MeasureState.RETURNED.value or (changed and row.state != MeasureState.PROPOSED.value):
                row.revision += 1
                row.state, row.decided_at = MeasureState.PROPOSED.value, None
            elif changed:
                row.revision += 1
            for name, value in values.items():
                setattr(row, name, value)
        session.flush()
        item.id = row.id
        kept.add(row.id)
    settled = {MeasureState.WITHDRAWN.value, MeasureState.EVALUATED.value}
    for row in existing.values():
        if row.id not in kept and row.state not in settled:
            row.state = MeasureState.WITHDRAWN.value
    return form.model_dump(mode="json")


_REVISION = re.compile(r":r(\d+)$")


def _project_decision(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    form = cast(MeasureApprovalForm, form)
    measure = session.get(Measure, task.measure_id) if task.measure_id is not None else None
    if measure is None:
        raise NotFound(f"task {task.id} names no measure")
    found = _REVISION.search(task.natural_key)
    asked_for = int(found.group(1)) if found else measure.revision
    if measure.state != MeasureState.PROPOSED.value or measure.revision != asked_for:
        raise Conflict("the proposal has changed since this approval was asked for; a new approval task follows")
    before = _decision_facts(measure)
    measure.hr_comment, measure.decided_at = form.comment, now
    if form.decision is MeasureDecision.APPROVE:
        measure.state = MeasureState.APPROVED.value
    else:
        measure.state = MeasureState.RETURNED.value
        _return_proposal(session, runtime, task, measure, now)
    # The decision on the measure itself, beside the approval task's task.submit: the audit log
    # answers "who approved this measure, which revision, with what comment" without joining tasks.
    action = "measure.approve" if form.decision is MeasureDecision.APPROVE else "measure.return"
    audit(session, now, f"person:{actor_id}", action, "measure", measure.id, before, _decision_facts(measure))
    return form.model_dump(mode="json")


def _decision_facts(measure: Measure) -> dict[str, Any]:
    return {"state": measure.state, "revision": measure.revision, "hr_comment": measure.hr_comment}


def _return_proposal(
    session: Session, runtime: Runtime, approval: HumanTask, measure: Measure, now: dt.datetime
) -> None:
    """The leader's proposal task opens again (same link) and the leader is told why."""
    proposals = list(
        session.scalars(
            select(HumanTask).where(
                HumanTask.cycle_id == approval.cycle_id,
                HumanTask.unit_id == approval.unit_id,
                HumanTask.form_key == PROPOSAL_FORM,
                HumanTask.state == TaskState.SUBMITTED.value,
            )
        )
    )
    cycle = session.get(Cycle, approval.cycle_id)
    if cycle is None:
        return
    _org, contacts = load_org(session, cycle.organisation_id, today_for(now, runtime.settings.zone))
    messages = []
    for proposal in proposals:
        proposal.state = TaskState.RETURNED.value
        contact = contacts.get(proposal.assignee_id)
        if contact is not None:
            key = f"measure_returned:t{proposal.id}:m{measure.id}:r{measure.revision}"
            context = {"task_id": proposal.id, "measure_id": measure.id}
            messages.append(message_to(contact, key, "measure_returned", context, now))
    enqueue_many(session, messages, now)


def _project_evaluation(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    measure = session.get(Measure, task.measure_id) if task.measure_id is not None else None
    if measure is None:
        raise NotFound(f"task {task.id} names no measure")
    if measure.state not in (MeasureState.APPROVED.value, MeasureState.EVALUATED.value):
        raise Conflict(f"measure {measure.id} is {measure.state}; only an approved measure is evaluated")
    measure.state = MeasureState.EVALUATED.value
    return form.model_dump(mode="json")


def _project_follow_up(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    return project_follow_up(session, runtime, task, form, now)


PROJECTIONS = {
    "unit_goals": _project_unit_goals,
    "needs_mapping": _project_needs,
    PROPOSAL_FORM: _project_measures,
    APPROVAL_FORM: _project_decision,
    EVALUATION_FORM: _project_evaluation,
    FOLLOW_UP_FORM: _project_follow_up,
}


# --- HR's decision from the board -------------------------------------------------------------------


def decide_measure(runtime: Runtime, measure_id: int, decision: str, comment: str, actor: int) -> Receipt:
    """HR approves or returns a proposed measure from the board: the same as answering the
    approval task of the measure's current revision. ``actor`` is the HR person's id."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        person = session.get(Person, actor)
        if person is None or person.role != Role.HR.value:
            raise Forbidden("only HR decides on measures")
        measure = session.get(Measure, measure_id)
        if measure is None:
            raise NotFound(f"measure {measure_id} does not exist")
        task = session.scalars(
            select(HumanTask)
            .where(
                HumanTask.measure_id == measure_id,
                HumanTask.form_key == APPROVAL_FORM,
                HumanTask.state.in_([TaskState.OPEN.value, TaskState.RETURNED.value]),
                HumanTask.natural_key.endswith(f":r{measure.revision}"),
            )
            .with_for_update()
        ).first()
        if task is None:
            raise Conflict(f"no approval is waiting for measure {measure_id}")
        inputs = task_inputs(session, task, today_for(now, runtime.settings.zone))
        form = validate_form(APPROVAL_FORM, {"decision": decision, "comment": comment}, inputs.rules)
        receipt = _record(session, runtime, task, form, actor, now)
        cycle_id = task.cycle_id
    runtime.triggers.advance(cycle_id)
    runtime.triggers.dispatch()
    return receipt
