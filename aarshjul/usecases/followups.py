"""Follow-up tasks: opened by the sweep when a follow-up date of a talk record comes, and the email
that lets the employee read the follow-up once their leader has written it.

Opening is set-based: one query reads the newest submitted talk records, one the follow-up tasks
that already exist, one statement inserts the new tasks (``ON CONFLICT DO NOTHING`` on the natural
key, so a re-run sweep creates nothing twice) and one invitation per leader lists all their new
tasks. Everything runs in the sweep's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import Cycle, HumanTask, Person, StrategyPeriod, Submission
from aarshjul.domain.enums import CycleState, Role, TaskState
from aarshjul.domain.followups import (
    FOLLOW_UP_FORM,
    FOLLOW_UP_PART_KEY,
    FOLLOW_UP_STEP_KEY,
    TALK_RECORD_FORM,
    due_follow_ups,
    follow_up_dates,
    follow_up_due_on,
    follow_up_natural_key,
)
from aarshjul.domain.progression import OrgChart
from aarshjul.domain.schedule import EVALUATION_REMINDERS, reminders_passed
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle_support import (
    Contact,
    digest,
    insert_for,
    load_org,
    message_to,
    queue_invitations,
    today_for,
)
from forms.fields import FormModel
from notifications.outbox import enqueue_many

#: Talks of a cancelled cycle were abandoned; running and closed cycles' talks are followed up.
FOLLOWED_CYCLE_STATES = (CycleState.RUNNING.value, CycleState.CLOSED.value)
#: Template of the email that tells the employee their follow-up was written.
RECORDED_TEMPLATE = "follow_up_recorded"


@dataclass(frozen=True)
class FollowUpsOpened:
    tasks: int
    invitations: int


@dataclass(frozen=True)
class _Record:
    task_id: int
    cycle_id: int
    unit_id: int
    organisation_id: int
    subject_id: int
    data: dict[str, Any]


def _records(session: Session, today: dt.date) -> list[_Record]:
    """The newest submitted talk record of every talk that may still have a follow-up to come.

    Follow-up dates lie within the strategy period, so periods that ended before last year are left out.
    """
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .join(HumanTask, HumanTask.id == Submission.task_id)
        .where(HumanTask.form_key == TALK_RECORD_FORM, Submission.is_draft.is_(False))
        .group_by(Submission.task_id)
        .subquery()
    )
    rows = session.execute(
        select(
            HumanTask.id,
            HumanTask.cycle_id,
            HumanTask.unit_id,
            Cycle.organisation_id,
            HumanTask.subject_person_id,
            Submission.data,
        )
        .join(newest, newest.c.task_id == HumanTask.id)
        .join(Submission, and_(Submission.task_id == newest.c.task_id, Submission.version == newest.c.version))
        .join(Cycle, Cycle.id == HumanTask.cycle_id)
        .join(StrategyPeriod, StrategyPeriod.id == Cycle.period_id)
        .where(
            HumanTask.state == TaskState.SUBMITTED.value,
            HumanTask.subject_person_id.is_not(None),
            Cycle.state.in_(FOLLOWED_CYCLE_STATES),
            StrategyPeriod.last_year >= today.year - 1,
        )
        .order_by(HumanTask.id)
    ).all()
    return [
        _Record(r.id, r.cycle_id, r.unit_id, r.organisation_id, r.subject_person_id, dict(r.data or {})) for r in rows
    ]


def _existing_keys(session: Session, cycle_ids: set[int]) -> set[str]:
    return set(
        session.scalars(
            select(HumanTask.natural_key).where(
                HumanTask.step_key == FOLLOW_UP_STEP_KEY, HumanTask.cycle_id.in_(sorted(cycle_ids))
            )
        )
    )


def _leader_for(org: OrgChart, subject_id: int) -> int | None:
    """The employee's leader now; nobody when the employee has left or only HR is above them (HR
    may not read talk notes, so the follow-up waits until the unit has a leader again)."""
    if not org.is_active(subject_id):
        return None
    leader = org.manager_of(subject_id)
    if leader is None or leader == subject_id or org.people[leader].role is Role.HR:
        return None
    return leader


def open_due_follow_ups(session: Session, now: dt.datetime, today: dt.date, zone: ZoneInfo) -> FollowUpsOpened:
    """Open a follow-up task for every follow-up date that has come and has no task yet, and invite
    each leader once, listing all their new follow-ups. Runs inside the caller's transaction."""
    records = _records(session, today)
    due = [(r, on) for r in records for on in due_follow_ups(follow_up_dates(r.data), today)]
    if not due:
        return FollowUpsOpened(0, 0)
    existing = _existing_keys(session, {r.cycle_id for r, _ in due})
    orgs: dict[int, tuple[OrgChart, dict[int, Contact]]] = {}
    rows: list[dict[str, Any]] = []
    for record, on in due:
        key = follow_up_natural_key(record.task_id, on)
        if key in existing:
            continue
        if record.organisation_id not in orgs:
            orgs[record.organisation_id] = load_org(session, record.organisation_id, today)
        leader = _leader_for(orgs[record.organisation_id][0], record.subject_id)
        if leader is None:
            continue
        due_on = follow_up_due_on(today)
        rows.append(
            {
                "natural_key": key,
                "cycle_id": record.cycle_id,
                "unit_id": record.unit_id,
                "step_key": FOLLOW_UP_STEP_KEY,
                "part_key": FOLLOW_UP_PART_KEY,
                "form_key": FOLLOW_UP_FORM,
                "subject_person_id": record.subject_id,
                "measure_id": None,
                "assignee_id": leader,
                "state": TaskState.OPEN.value,
                "due_on": due_on,
                "reminders_sent": reminders_passed(due_on, EVALUATION_REMINDERS, now, zone),
                "escalation_level": 0,
                "link_version": 1,
                "created_at": now,
                "submitted_at": None,
                "closed_at": None,
            }
        )
    if not rows:
        return FollowUpsOpened(0, 0)
    insert = insert_for(session)
    created = session.execute(
        insert(HumanTask)
        .on_conflict_do_nothing(index_elements=["natural_key"])
        .returning(HumanTask.id, HumanTask.assignee_id, HumanTask.link_version),
        rows,
    ).all()
    contacts: dict[int, Contact] = {}
    for _org, org_contacts in orgs.values():
        contacts.update(org_contacts)
    new_tasks = [(t.id, t.assignee_id, t.link_version) for t in created]
    invitations = queue_invitations(session, new_tasks, contacts, now)
    return FollowUpsOpened(len(created), invitations)


def project_follow_up(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime
) -> dict[str, Any]:
    """When the leader submits (or amends) a follow-up, the employee gets an email with a link to
    read it: their development, their responsibility. Queued in the submission's transaction."""
    data = form.model_dump(mode="json")
    subject = session.get(Person, task.subject_person_id) if task.subject_person_id is not None else None
    if subject is None or not subject.is_active_on(today_for(now, runtime.settings.zone)):
        return data
    contact = Contact(subject.id, subject.email, subject.language)
    version = digest([json.dumps(data, sort_keys=True, ensure_ascii=False)])
    key = f"{RECORDED_TEMPLATE}:t{task.id}:{version}"
    enqueue_many(session, [message_to(contact, key, RECORDED_TEMPLATE, {"task_id": task.id}, now)], now)
    return data


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
            func.sum(case((HumanTask.state == TaskState.SUBMITTED.value, 1), else_=0)),
            func.sum(case((HumanTask.state.in_([TaskState.OPEN.value, TaskState.RETURNED.value]), 1), else_=0)),
        )
        .where(HumanTask.cycle_id == cycle_id, HumanTask.step_key == FOLLOW_UP_STEP_KEY)
        .group_by(HumanTask.unit_id)
    ).all()
    return {unit_id: FollowUpCounts(int(done or 0), int(waiting or 0)) for unit_id, done, waiting in rows}
