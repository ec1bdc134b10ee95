"""Opening follow-up tasks when a date agreed in a talk record comes (principle 3).

The sweep calls it; one task per record and date, whatever the number of sweeps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from aarshjul.db.models import Cycle, HumanTask, StrategyPeriod, Submission
from aarshjul.domain.enums import CycleState, FormKey, Role, TaskState
from aarshjul.domain.followups import (
    FOLLOW_UP_KEY_PREFIX,
    FOLLOW_UP_PART_KEY,
    FOLLOW_UP_STEP_KEY,
    due_follow_ups,
    follow_up_dates,
    follow_up_due_on,
    follow_up_natural_key,
)
from aarshjul.domain.progression import OrgChart
from aarshjul.domain.schedule import EVALUATION_REMINDERS, reminders_passed
from aarshjul.usecases.shared.mail import queue_invitations
from aarshjul.usecases.shared.org import Contact, load_org
from aarshjul.usecases.shared.writes import insert_for

#: Talks of a cancelled cycle were abandoned; running and closed cycles' talks are followed up.
FOLLOWED_CYCLE_STATES = (CycleState.RUNNING, CycleState.CLOSED)


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


# A record with a follow-up date that has come and has no follow-up task yet: what a sweep must look
# at. The dates are inside the record's JSON, so the test is the database's own JSON functions; it
# lets the database pass over the thousands of records whose follow-ups are all done or all ahead,
# which every sweep would otherwise read and parse (the rest of the rule stays in Python).
_FOLLOW_UP_OWED = {
    "sqlite": """EXISTS (
        SELECT 1 FROM json_each(submission.data, '$.follow_ups') AS item
        WHERE json_extract(item.value, '$.on') <= :today
          AND NOT EXISTS (SELECT 1 FROM human_task AS done WHERE done.natural_key =
                          :key_prefix || human_task.id || ':' || json_extract(item.value, '$.on')))""",
    "postgresql": """EXISTS (
        SELECT 1 FROM json_array_elements(CASE WHEN json_typeof(submission.data -> 'follow_ups') = 'array'
                                          THEN submission.data -> 'follow_ups' ELSE '[]'::json END) AS item
        WHERE item ->> 'on' <= :today
          AND NOT EXISTS (SELECT 1 FROM human_task AS done WHERE done.natural_key =
                          :key_prefix || human_task.id || ':' || (item ->> 'on')))""",
}


def records_owing_follow_ups(session: Session, today: dt.date) -> list[_Record]:
    """The newest submitted talk record of every talk with a follow-up date that has come and has no
    follow-up task yet.

    Follow-up dates lie within the strategy period, so periods that ended before last year are left out.
    """
    owed = text(_FOLLOW_UP_OWED[session.get_bind().dialect.name]).bindparams(
        today=today.isoformat(), key_prefix=FOLLOW_UP_KEY_PREFIX
    )
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .join(HumanTask, HumanTask.id == Submission.task_id)
        .where(HumanTask.form_key == FormKey.TALK_RECORD, Submission.is_draft.is_(False))
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
            HumanTask.state == TaskState.SUBMITTED,
            HumanTask.subject_person_id.is_not(None),
            Cycle.state.in_(FOLLOWED_CYCLE_STATES),
            StrategyPeriod.last_year >= today.year - 1,
            owed,
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
    records = records_owing_follow_ups(session, today)
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
                "form_key": FormKey.TALK_FOLLOW_UP,
                "subject_person_id": record.subject_id,
                "measure_id": None,
                "assignee_id": leader,
                "state": TaskState.OPEN,
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
