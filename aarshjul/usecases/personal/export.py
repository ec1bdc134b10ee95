"""A copy of everything stored about a person (``/me/data``): asked for by email address, sent as a
link that works once and for a week."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    ApiToken,
    AuditEvent,
    Cycle,
    HrCredential,
    HrSession,
    HumanTask,
    Measure,
    Notification,
    Organisation,
    Person,
    Submission,
    Unit,
)
from aarshjul.domain.addresses import normalise_email
from aarshjul.domain.enums import Role
from aarshjul.domain.errors import DomainError
from aarshjul.runtime import Runtime
from aarshjul.signing import BadToken, ExpiredToken, ExportClaims, new_nonce, read_export_token
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.shared.org import load_org
from aarshjul.usecases.shared.writes import audit, serialize
from notifications.outbox import OutgoingMessage, enqueue_many

EXPORT_FORMAT = "aarshjul-personal-data/1"


EXPORT_TEMPLATE = "personal_data_link"


#: The audit action that records a download; its object id is the link's nonce.
EXPORT_ACTION = "personal_data.export"


EXPORT_OBJECT = "export_link"


#: Requests for the same person within one window queue one email.
WINDOW = dt.timedelta(minutes=15)


#: An email with a link that could not go out within a day is stale; the person will ask again.
SEND_LIFETIME = dt.timedelta(days=1)


class ExportLinkProblem(StrEnum):
    """Why an export link gives no export."""

    INVALID = "invalid"  #: not a link we made (tampered, incomplete), or its person is gone
    EXPIRED = "expired"  #: older than seven days
    USED = "used"  #: the export was already downloaded with it


class ExportLinkRefused(DomainError):
    def __init__(self, problem: ExportLinkProblem) -> None:
        self.problem = problem
        super().__init__(f"the export link cannot be used: {problem.value}")


def request_export(runtime: Runtime, address: str, now: dt.datetime | None = None) -> int:
    """Queue an export link for whoever has this address on file. Returns messages queued (0 or more)."""
    now = now or runtime.clock()
    email = normalise_email(address)
    if not email or "@" not in email or len(email) > 254:
        return 0
    window = int(now.timestamp() // WINDOW.total_seconds())
    with unit_of_work(runtime.sessions) as session:
        people = session.execute(
            select(Person.id, Person.email, Person.language).where(func.lower(Person.email) == email)
        ).all()
        messages = [
            OutgoingMessage(
                idempotency_key=f"{EXPORT_TEMPLATE}:{p.id}:{window}",
                to_email=p.email,
                language=p.language,
                template=EXPORT_TEMPLATE,
                context={"issued_at": now.isoformat(), "nonce": new_nonce()},
                not_before=now,
                recipient_id=p.id,
                expires_at=now + SEND_LIFETIME,
            )
            for p in people
        ]
        return enqueue_many(session, messages, now)


@dataclass(frozen=True)
class ExportLink:
    """What the page behind a valid link shows."""

    name: str
    expires_at: dt.datetime


def _read(runtime: Runtime, token: str, now: dt.datetime) -> ExportClaims:
    try:
        return read_export_token(runtime.settings.secret(), token, now)
    except ExpiredToken as exc:
        raise ExportLinkRefused(ExportLinkProblem.EXPIRED) from exc
    except BadToken as exc:
        raise ExportLinkRefused(ExportLinkProblem.INVALID) from exc


def _unspent(session: Session, claims: ExportClaims) -> Person:
    """The link's person, unless the link was already spent."""
    person = session.get(Person, claims.person_id)
    if person is None:
        raise ExportLinkRefused(ExportLinkProblem.INVALID)
    used = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == EXPORT_ACTION,
            AuditEvent.object_type == EXPORT_OBJECT,
            AuditEvent.object_id == claims.nonce,
        )
    )
    if used:
        raise ExportLinkRefused(ExportLinkProblem.USED)
    return person


def check_export_link(runtime: Runtime, token: str) -> ExportLink:
    """Whether the link gives an export now. Reads only."""
    now = runtime.clock()
    with runtime.sessions() as session:
        claims = _read(runtime, token, now)
        person = _unspent(session, claims)
        return ExportLink(person.name, claims.expires_at())


def export_personal_data(runtime: Runtime, token: str) -> dict[str, Any]:
    """Everything stored about the link's person, as a JSON-ready document; spends the link."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        claims = _read(runtime, token, now)
        serialize(session, f"{EXPORT_ACTION}:{claims.nonce}")  # two presses of the button: one export
        person = _unspent(session, claims)
        document = _export(session, runtime, person, now)
        audit(session, now, f"person:{person.id}", EXPORT_ACTION, EXPORT_OBJECT, claims.nonce)
        return document


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _export(session: Session, runtime: Runtime, person: Person, now: dt.datetime) -> dict[str, Any]:
    today = today_for(now, runtime.settings.zone)
    me = person.id
    org, _contacts = load_org(session, person.organisation_id, today)
    manager = org.manager_of(me)
    leader_name = _names_of(session, {manager}).get(manager) if manager is not None else None
    unit = session.get(Unit, person.unit_id)
    organisation = session.get(Organisation, person.organisation_id)
    hr_names = sorted(
        session.scalars(
            select(Person.name).where(
                Person.organisation_id == person.organisation_id,
                Person.role == Role.HR,
                Person.active_to.is_(None) | (Person.active_to >= today),
            )
        )
    )
    tasks, submissions, task_ids = _tasks_and_submissions(session, me)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(),
        "about": "Everything Årshjul stores about you / Alt Årshjul lagrer om deg",
        "person": {
            "id": me,
            "employee_no": person.employee_no,
            "name": person.name,
            "email": person.email,
            "role": person.role,
            "language": person.language,
            "active_from": _iso(person.active_from),
            "active_to": _iso(person.active_to),
            "has_deputy": person.deputy_id is not None,
        },
        "organisation": organisation.name if organisation is not None else None,
        "unit": {"code": unit.code, "name": unit.name} if unit is not None else None,
        "contacts": {
            "leader": leader_name,
            "hr": hr_names,
        },
        "tasks": tasks,
        "submissions": submissions,
        "notifications": _notifications(session, me),
        "audit_events": _audit_events(session, me, task_ids),
        "hr_access": _hr_access(session, me),
    }


def _names_of(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {row.id: row.name for row in session.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))}


def _tasks_and_submissions(session: Session, me: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[int]]:
    """Tasks assigned to the person and tasks about them. A task of theirs about someone else (a
    leader's record of an employee's talk) is listed without whom it is about or what it says."""
    assignee = aliased(Person)
    rows = session.execute(
        select(HumanTask, Cycle.year, assignee.name, Measure.title)
        .join(Cycle, Cycle.id == HumanTask.cycle_id)
        .join(assignee, assignee.id == HumanTask.assignee_id)
        .outerjoin(Measure, Measure.id == HumanTask.measure_id)
        .where(or_(HumanTask.assignee_id == me, HumanTask.subject_person_id == me))
        .order_by(HumanTask.id)
    ).all()
    tasks: list[dict[str, Any]] = []
    readable: set[int] = set()
    for task, year, assignee_name, measure_title in rows:
        about_me = task.subject_person_id == me
        about_other = task.subject_person_id is not None and not about_me
        mine = task.assignee_id == me
        if not about_other:
            readable.add(task.id)
        tasks.append(
            {
                "id": task.id,
                "cycle_year": year,
                "step": task.step_key,
                "part": task.part_key,
                "form": task.form_key,
                "state": task.state,
                "due_on": _iso(task.due_on),
                "created_at": _iso(task.created_at),
                "submitted_at": _iso(task.submitted_at),
                "closed_at": _iso(task.closed_at),
                "assigned_to_me": mine,
                "about_me": about_me,
                "about_another_person": about_other,
                "assignee": "me" if mine else assignee_name,
                "measure": measure_title,
            }
        )
    submitter = aliased(Person)
    versions = session.execute(
        select(Submission, submitter.name)
        .join(submitter, submitter.id == Submission.submitted_by_id)
        .where(Submission.task_id.in_(sorted(readable)))
        .order_by(Submission.task_id, Submission.version)
    ).all()
    forms = {t["id"]: t["form"] for t in tasks}
    submissions = [
        {
            "task_id": s.task_id,
            "form": forms.get(s.task_id),
            "version": s.version,
            "draft": s.is_draft,
            "created_at": _iso(s.created_at),
            "submitted_by": "me" if s.submitted_by_id == me else name,
            "data": s.data,
        }
        for s, name in versions
    ]
    return tasks, submissions, {t["id"] for t in tasks}


def _notifications(session: Session, me: int) -> list[dict[str, Any]]:
    """Emails to the person, without their bodies: an escalation lists other people's late tasks."""
    rows = session.execute(
        select(
            Notification.template,
            Notification.to_email,
            Notification.language,
            Notification.state,
            Notification.created_at,
            Notification.sent_at,
        )
        .where(Notification.recipient_id == me)
        .order_by(Notification.id)
    ).all()
    return [
        {
            "kind": r.template,
            "to": r.to_email,
            "language": r.language,
            "state": r.state,
            "queued_at": _iso(r.created_at),
            "sent_at": _iso(r.sent_at),
        }
        for r in rows
    ]


def _audit_events(session: Session, me: int, task_ids: set[int]) -> list[dict[str, Any]]:
    """Events the person did or that name them; the before/after states only of their own rows."""
    actor = f"person:{me}"
    on_me = and_(AuditEvent.object_type == "person", AuditEvent.object_id == str(me))
    rows = session.scalars(select(AuditEvent).where(or_(AuditEvent.actor == actor, on_me)).order_by(AuditEvent.id))
    events = []
    for event in rows:
        own_object = (event.object_type == "person" and event.object_id == str(me)) or (
            event.object_type == "task" and event.object_id.isdigit() and int(event.object_id) in task_ids
        )
        events.append(
            {
                "occurred_at": _iso(event.occurred_at),
                "by": "me"
                if event.actor == actor
                else ("another person" if event.actor.startswith("person:") else event.actor),
                "action": event.action,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "before": event.before if own_object else None,
                "after": event.after if own_object else None,
            }
        )
    return events


def _hr_access(session: Session, me: int) -> dict[str, Any] | None:
    credential = session.get(HrCredential, me)
    tokens = session.execute(
        select(
            ApiToken.label, ApiToken.created_at, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at
        ).where(ApiToken.person_id == me)
    ).all()
    sessions = session.execute(
        select(HrSession.started_at, HrSession.last_seen_at, HrSession.ended_at).where(HrSession.person_id == me)
    ).all()
    if credential is None and not tokens:
        return None
    return {
        "password_set": credential is not None,
        "sessions": [
            {"started_at": _iso(s.started_at), "last_seen_at": _iso(s.last_seen_at), "ended_at": _iso(s.ended_at)}
            for s in sessions
        ],
        "api_tokens": [
            {
                "label": t.label,
                "created_at": _iso(t.created_at),
                "revoked_at": _iso(t.revoked_at),
                "expires_at": _iso(t.expires_at),
                "last_used_at": _iso(t.last_used_at),
            }
            for t in tokens
        ],
    }
