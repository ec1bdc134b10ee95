"""Rendering an outbox row at send time: from template name + context (ids) to subject, text and HTML.

Everything an email says is read from the database when it is sent, so it is current: each task's
link is made from the task's assignee and link version *now*. A part of a message whose task has been
reassigned away from the recipient, or is no longer waiting for them, is left out rather than sent
with a dead link; a message with nothing left is cancelled (``compose`` returns ``None``).

Builders only gather view models (plain dicts); the wording lives in the templates under
``notifications/templates/emails/`` and their gettext catalogue ``emails.po``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from aarshjul.clock import local_date
from aarshjul.db.models import (
    Cycle,
    CycleDefinitionRecord,
    HumanTask,
    Measure,
    Person,
    PlanReviewer,
    StrategyPeriod,
    Unit,
    UnitStep,
)
from aarshjul.domain.cycle_spec import CycleDefinition, parse_definition
from aarshjul.domain.enums import TaskState, UnitStepState
from aarshjul.domain.followups import FEEDBACK_STEP_KEY, FOLLOW_UP_STEP_KEY
from aarshjul.domain.progression import EVALUATION_STEP_KEY
from aarshjul.presentation.i18n import gettext, supported
from aarshjul.presentation.templating import format_date, format_datetime, render
from aarshjul.settings import Settings
from aarshjul.signing import (
    ExportClaims,
    FollowUpClaims,
    ReviewClaims,
    TaskLinkClaims,
    export_url,
    follow_up_url,
    review_url,
    task_url,
)
from notifications.backends import Attachment
from notifications.ics import CalendarInvitation, CalendarPerson, build_invitation

BOARD_PATH = "/board"
#: The board filtered to late tasks, where an escalation's full list is.
LATE_BOARD_PATH = "/board?late=1"
#: An escalation lists at most this many late tasks (by unit and step) and counts the rest, so it stays
#: readable when thousands are late; HR finds them all on the board.
LATE_LINES_SHOWN = 25
NEW_LINK_PATH = "/link/new"


class UnknownTemplate(Exception):
    """An outbox row names a template this version does not have; it is marked failed, not retried."""


@dataclass(frozen=True)
class QueuedMessage:
    """What the dispatcher knows of an outbox row when it renders it."""

    id: int
    idempotency_key: str
    recipient_id: int | None
    to_email: str
    language: str
    template: str
    context: dict[str, Any]
    channel: str = "email"  #: or "sms" (``NotificationChannel``)
    to_phone: str | None = None  #: an SMS's number
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class _Task:
    id: int
    cycle_id: int
    definition_id: int
    step_key: str
    part_key: str
    form_key: str
    state: str
    assignee_id: int
    assignee_name: str
    link_version: int
    due_on: dt.date
    closed_at: dt.datetime | None
    unit_name: str
    subject_person_id: int | None
    subject_name: str | None
    measure_title: str | None


@dataclass
class _View:
    subject: str
    context: dict[str, Any]
    attachments: tuple[Attachment, ...] = ()


class RenderBatch:
    """What rendering a batch of messages reads, shared: the tasks they name, loaded in one query,
    and each cycle definition, parsed once. Opening a step for 10,000 people queues 10,000
    invitations; rendering them one query (and one definition) at a time was most of sending them."""

    def __init__(self, session: Session, messages: Iterable[QueuedMessage] = ()) -> None:
        self.session = session
        self.tasks: dict[int, _Task] = {}
        self.definitions: dict[int, CycleDefinition] = {}
        self.load({i for m in messages for i in _ids(m.context)})

    def load(self, ids: Iterable[int]) -> None:
        missing = sorted({int(i) for i in ids} - set(self.tasks))
        for start in range(0, len(missing), _TASKS_AT_A_TIME):
            for task in _load_tasks(self.session, missing[start : start + _TASKS_AT_A_TIME]):
                self.tasks[task.id] = task


#: Ids per query: well under SQLite's limit on bound parameters.
_TASKS_AT_A_TIME = 5_000


def _load_tasks(session: Session, wanted: Sequence[int]) -> list[_Task]:
    subject = aliased(Person)
    assignee = aliased(Person)
    rows = session.execute(
        select(
            HumanTask.id,
            HumanTask.cycle_id,
            Cycle.definition_id,
            HumanTask.step_key,
            HumanTask.part_key,
            HumanTask.form_key,
            HumanTask.state,
            HumanTask.assignee_id,
            assignee.name.label("assignee_name"),
            HumanTask.link_version,
            HumanTask.due_on,
            HumanTask.closed_at,
            Unit.name.label("unit_name"),
            HumanTask.subject_person_id,
            subject.name.label("subject_name"),
            Measure.title.label("measure_title"),
        )
        .join(Cycle, Cycle.id == HumanTask.cycle_id)
        .join(Unit, Unit.id == HumanTask.unit_id)
        .join(assignee, assignee.id == HumanTask.assignee_id)
        .outerjoin(subject, subject.id == HumanTask.subject_person_id)
        .outerjoin(Measure, Measure.id == HumanTask.measure_id)
        .where(HumanTask.id.in_(wanted))
    ).all()
    return [_Task(**row._asdict()) for row in rows]


class _Reader:
    """Loads what builders need, with one query per kind of thing (shared with a batch's others)."""

    def __init__(
        self, session: Session, settings: Settings, now: dt.datetime, language: str, batch: RenderBatch | None = None
    ) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.language = language
        self.today = local_date(now, settings.zone)
        self.batch = batch or RenderBatch(session)

    def _(self, message: str) -> str:
        return gettext(self.language, message)

    def date(self, value: dt.date | dt.datetime | str | None) -> str:
        return format_date(value, self.language, self.settings.zone)

    def moment(self, value: dt.datetime) -> str:
        return format_datetime(value, self.language, self.settings.zone)

    def tasks(self, ids: Iterable[int]) -> list[_Task]:
        wanted = {int(i) for i in ids}
        self.batch.load(wanted)
        found = [self.batch.tasks[i] for i in wanted if i in self.batch.tasks]
        return sorted(found, key=lambda t: (t.due_on, t.id))

    def definition(self, definition_id: int) -> CycleDefinition:
        definitions = self.batch.definitions
        if definition_id not in definitions:
            record = self.session.get(CycleDefinitionRecord, definition_id)
            if record is None:
                raise LookupError(f"cycle definition {definition_id} is missing")
            definitions[definition_id] = parse_definition(record.content, f"definition {definition_id}")
        return definitions[definition_id]

    def task_title(self, task: _Task) -> str:
        if task.step_key == EVALUATION_STEP_KEY:
            return self._("Evaluation of a measure")
        if task.step_key == FOLLOW_UP_STEP_KEY:
            return self._("Follow-up of the development plan")
        if task.step_key == FEEDBACK_STEP_KEY:
            return self._("Your view of a competence measure")
        definition = self.definition(task.definition_id)
        step = next((s for s in definition.steps if s.key == task.step_key), None)
        if step is None:
            return task.step_key
        title = f"{step.number}. {step.name.get(self.language)}"
        if len(step.parts) > 1:
            part = next((p for p in step.parts if p.key == task.part_key), None)
            if part is not None:
                title += f" – {part.name.get(self.language)}"
        return title

    def step_number(self, task: _Task) -> int:
        """The step's place in the cycle, for ordering; evaluations and follow-ups come after the steps."""
        definition = self.definition(task.definition_id)
        step = next((s for s in definition.steps if s.key == task.step_key), None)
        return step.number if step is not None else len(definition.steps) + 1

    def person(self, person_id: int | None) -> Person | None:
        return self.session.get(Person, person_id) if person_id is not None else None

    def names(self, ids: Iterable[int]) -> dict[int, str]:
        wanted = {int(i) for i in ids}
        if not wanted:
            return {}
        rows = self.session.execute(select(Person.id, Person.name).where(Person.id.in_(wanted)))
        return {row.id: row.name for row in rows}

    def link(self, task: _Task) -> str:
        claims = TaskLinkClaims(task.id, task.assignee_id, task.link_version)
        return task_url(self.settings.base_url, self.settings.secret(), claims)

    def task_line(self, task: _Task, with_link: bool) -> dict[str, Any]:
        return {
            "title": self.task_title(task),
            "unit": task.unit_name,
            "about": task.subject_name or task.measure_title,
            "due": self.date(task.due_on),
            "days_left": (task.due_on - self.today).days,
            "url": self.link(task) if with_link else None,
        }

    def url(self, path: str) -> str:
        return f"{self.settings.base_url}{path}"


#: How tasks are read for a message, and for anything else that shows a person their tasks as of a moment
#: (the SMS text, the calendar feed): titles in their language, dates, current links.
TaskReader = _Reader


def _waiting_for(task: _Task, recipient_id: int | None, allow_submitted: bool = False) -> bool:
    """True when the task still waits for this recipient, so a link to it is worth sending."""
    if task.assignee_id != recipient_id:
        return False
    state = TaskState(task.state)
    if state.is_actionable:
        return True
    return allow_submitted and state is TaskState.SUBMITTED and task.closed_at is None


def _ids(context: dict[str, Any], key: str = "task_ids") -> list[int]:
    return [int(i) for i in context.get(key) or []]


Builder = Callable[[_Reader, QueuedMessage], "_View | None"]


def _task_list(reader: _Reader, message: QueuedMessage, allow_submitted: bool) -> list[dict[str, Any]]:
    return [
        reader.task_line(t, with_link=True)
        for t in reader.tasks(_ids(message.context))
        if _waiting_for(t, message.recipient_id, allow_submitted)
    ]


def _invitation(reader: _Reader, message: QueuedMessage) -> _View | None:
    tasks = _task_list(reader, message, allow_submitted=False)
    if not tasks:
        return None
    if len(tasks) == 1:
        subject = reader._("New task: {title}").format(title=tasks[0]["title"])
    else:
        subject = reader._("New tasks in the annual cycle ({count})").format(count=len(tasks))
    return _View(subject, {"tasks": tasks})


def _reminder(reader: _Reader, message: QueuedMessage) -> _View | None:
    tasks = _task_list(reader, message, allow_submitted=False)
    if not tasks:
        return None
    first_due = tasks[0]["due"]
    subject = reader._("Reminder: due {date}").format(date=first_due)
    return _View(subject, {"tasks": tasks, "days_left": int(message.context.get("days_left", tasks[0]["days_left"]))})


def _late_lines(reader: _Reader, message: QueuedMessage) -> list[dict[str, Any]]:
    """The tasks of an escalation that are still late, ordered by unit and step (never by how late)."""
    entries = [e for e in message.context.get("late") or [] if "task_id" in e]
    by_id = {t.id: t for t in reader.tasks(e["task_id"] for e in entries)}
    names = reader.names(int(e["person_id"]) for e in entries if e.get("person_id") is not None)
    keyed = []
    for entry in entries:
        task = by_id.get(int(entry["task_id"]))
        person_id = entry.get("person_id")
        # Someone who has delivered since, or whose task went to someone else, is not late.
        if (
            task is None
            or not TaskState(task.state).is_actionable
            or (person_id is not None and task.assignee_id != int(person_id))
        ):
            continue
        days_late = max((reader.today - task.due_on).days, int(entry.get("days_late", 0)))
        person = names.get(int(person_id)) if person_id is not None else task.assignee_name
        line = {
            "person": person,
            "title": reader.task_title(task),
            "unit": task.unit_name,
            "about": task.subject_name or task.measure_title,
            "due": reader.date(task.due_on),
            "days_late": days_late,
        }
        keyed.append(((task.unit_name, reader.step_number(task), task.part_key, person or "", task.id), line))
    return [line for _key, line in sorted(keyed, key=lambda pair: pair[0])]


def _late_view(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {"late": lines[:LATE_LINES_SHOWN], "more": max(0, len(lines) - LATE_LINES_SHOWN)}


def _escalation_manager(reader: _Reader, message: QueuedMessage) -> _View | None:
    lines = _late_lines(reader, message)
    if not lines:
        return None
    return _View(reader._("Late tasks in your area ({count})").format(count=len(lines)), _late_view(lines))


def _escalation_hr(reader: _Reader, message: QueuedMessage) -> _View | None:
    lines = _late_lines(reader, message)
    if not lines:
        return None
    subject = reader._("Late tasks that need HR's attention ({count})").format(count=len(lines))
    return _View(subject, {**_late_view(lines), "board_url": reader.url(LATE_BOARD_PATH)})


def _evaluation_due(reader: _Reader, message: QueuedMessage) -> _View | None:
    """One email per owner per sweep, listing each measure to evaluate with its own link.

    Rows queued before the grouping carry one task and its ``measure_id`` as well; the measure's title
    comes from the task either way.
    """
    tasks = _task_list(reader, message, allow_submitted=False)
    if not tasks:
        return None
    if len(tasks) == 1:
        subject = reader._("Time to evaluate a measure: {title}").format(title=tasks[0]["about"] or "")
    else:
        subject = reader._("Time to evaluate {count} measures").format(count=len(tasks))
    return _View(subject, {"tasks": tasks, "measure_title": tasks[0]["about"] or ""})


def _measure_returned(reader: _Reader, message: QueuedMessage) -> _View | None:
    tasks = [
        reader.task_line(t, with_link=True)
        for t in reader.tasks([int(message.context["task_id"])])
        if _waiting_for(t, message.recipient_id)
    ]
    measure = reader.session.get(Measure, int(message.context["measure_id"]))
    if not tasks or measure is None:
        return None
    subject = reader._("Measure proposal returned: {title}").format(title=measure.title)
    return _View(subject, {"tasks": tasks, "measure_title": measure.title, "comment": measure.hr_comment})


def _measure_merged(reader: _Reader, message: QueuedMessage) -> _View | None:
    """To the leader of a unit whose proposal HR merged into an organisation-wide measure."""
    proposal = reader.session.get(Measure, int(message.context["measure_id"]))
    merged_into = reader.session.get(Measure, int(message.context["merged_into_id"]))
    if proposal is None or merged_into is None or proposal.merged_into_id != merged_into.id:
        return None
    subject = reader._("Your measure proposal is now part of a shared measure: {title}").format(title=merged_into.title)
    context = {
        "proposal_title": proposal.title,
        "measure_title": merged_into.title,
        "first_year": merged_into.first_year,
        "last_year": merged_into.last_year,
    }
    return _View(subject, context)


def _new_link(reader: _Reader, message: QueuedMessage) -> _View | None:
    tasks = _task_list(reader, message, allow_submitted=True)
    if not tasks:
        return None
    return _View(reader._("Your links to the annual cycle"), {"tasks": tasks})


def _reassigned(reader: _Reader, message: QueuedMessage) -> _View | None:
    tasks = [t for t in reader.tasks(_ids(message.context)) if TaskState(t.state) is not TaskState.CANCELLED]
    if not tasks:
        return None
    from_name = reader.names([int(message.context["from_person_id"])]).get(int(message.context["from_person_id"]), "")
    lines = [{**reader.task_line(t, with_link=False), "assignee": t.assignee_name} for t in tasks]
    subject = reader._("Tasks moved from {name}").format(name=from_name)
    return _View(subject, {"tasks": lines, "from_name": from_name, "board_url": reader.url(BOARD_PATH)})


def _cycle_steps(reader: _Reader, cycle: Cycle) -> list[dict[str, Any]]:
    definition = reader.definition(cycle.definition_id)
    return [
        {
            "key": step.key,
            "title": f"{step.number}. {step.name.get(reader.language)}",
            "due": reader.date(cycle.step_due.get(step.key)),
        }
        for step in definition.active_steps
        if step.key in cycle.step_due
    ]


def _cycle_started(reader: _Reader, message: QueuedMessage) -> _View | None:
    cycle = reader.session.get(Cycle, int(message.context["cycle_id"]))
    if cycle is None:
        return None
    subject = reader._("The annual cycle {year} has started").format(year=cycle.year)
    return _View(
        subject,
        {
            "year": cycle.year,
            "starts_on": reader.date(cycle.starts_on),
            "steps": _cycle_steps(reader, cycle),
            "board_url": reader.url(BOARD_PATH),
        },
    )


def _weekly_summary(reader: _Reader, message: QueuedMessage) -> _View | None:
    cycle = reader.session.get(Cycle, int(message.context["cycle_id"]))
    if cycle is None:
        return None
    unit_steps = reader.session.execute(
        select(UnitStep.step_key, UnitStep.state).where(UnitStep.cycle_id == cycle.id)
    ).all()
    tasks = reader.session.execute(
        select(HumanTask.step_key, HumanTask.state, HumanTask.due_on).where(HumanTask.cycle_id == cycle.id)
    ).all()
    steps = []
    for step in _cycle_steps(reader, cycle):
        states = [UnitStepState(s.state) for s in unit_steps if s.step_key == step["key"]]
        step_tasks = [t for t in tasks if t.step_key == step["key"]]
        open_tasks = [t for t in step_tasks if TaskState(t.state).is_actionable]
        steps.append(
            {
                **step,
                "units_done": sum(1 for s in states if s in (UnitStepState.DONE, UnitStepState.SKIPPED)),
                "units_total": len(states),
                "open_tasks": len(open_tasks),
                "late_tasks": sum(1 for t in open_tasks if t.due_on < reader.today),
            }
        )
    subject = reader._("Weekly progress: annual cycle {year}").format(year=cycle.year)
    return _View(subject, {"year": cycle.year, "steps": steps, "board_url": reader.url(BOARD_PATH)})


def _talk_scheduled(reader: _Reader, message: QueuedMessage) -> _View | None:
    tasks = reader.tasks([int(message.context["task_id"])])
    if not tasks or TaskState(tasks[0].state) is TaskState.CANCELLED:
        return None
    task = tasks[0]
    starts_at = dt.datetime.fromisoformat(message.context["starts_at"])
    ends_at = dt.datetime.fromisoformat(message.context["ends_at"])
    location = str(message.context.get("location", ""))
    leader = reader.person(task.assignee_id)
    employee = reader.person(task.subject_person_id)
    if leader is None or employee is None:
        return None
    when = reader.moment(starts_at)
    summary = reader._("Goal and development talk: {leader} and {employee}").format(
        leader=leader.name, employee=employee.name
    )
    calendar = build_invitation(
        CalendarInvitation(
            uid=f"talk-{task.id}@aarshjul",
            starts_at=starts_at,
            ends_at=ends_at,
            summary=summary,
            description=reader._("The yearly goal and development talk in the annual cycle."),
            location=location,
            organizer=CalendarPerson(leader.name, leader.email),
            attendees=(CalendarPerson(leader.name, leader.email), CalendarPerson(employee.name, employee.email)),
            stamp=reader.now,
            sequence=int(message.context.get("sequence", 0)),
        )
    )
    attachment = Attachment("invitation.ics", "text/calendar; method=REQUEST", calendar.encode("utf-8"))
    subject = reader._("Talk agreed: {when}").format(when=when)
    return _View(
        subject,
        {"leader": leader.name, "employee": employee.name, "when": when, "location": location},
        (attachment,),
    )


def _follow_up_recorded(reader: _Reader, message: QueuedMessage) -> _View | None:
    """To the employee: their leader wrote a follow-up; the link shows it to them, read-only."""
    tasks = reader.tasks([int(message.context["task_id"])])
    subject_id = tasks[0].subject_person_id if tasks else None
    if subject_id is None or subject_id != message.recipient_id or tasks[0].state != TaskState.SUBMITTED:
        return None
    task = tasks[0]
    url = follow_up_url(reader.settings.base_url, reader.settings.secret(), FollowUpClaims(task.id, subject_id))
    subject = reader._("{leader} has followed up your development plan").format(leader=task.assignee_name)
    return _View(subject, {"leader": task.assignee_name, "url": url})


def _personal_data_link(reader: _Reader, message: QueuedMessage) -> _View | None:
    """To a person who asked for the export of their data: a one-time link, good for seven days."""
    if message.recipient_id is None:
        return None
    claims = ExportClaims(
        message.recipient_id, dt.datetime.fromisoformat(message.context["issued_at"]), message.context["nonce"]
    )
    if claims.expires_at() <= reader.now:
        return None
    url = export_url(reader.settings.base_url, reader.settings.secret(), claims)
    expires = reader.moment(claims.expires_at())
    return _View(reader._("Your data in Årshjul"), {"url": url, "expires": expires})


def _plan_review_invitation(reader: _Reader, message: QueuedMessage) -> _View | None:
    """To a reviewer HR invited (a union representative): a link to read and comment on the draft
    competence plan. Not sent once HR has removed them or the link has expired."""
    reviewer = reader.session.get(PlanReviewer, int(message.context["reviewer_id"]))
    if reviewer is None or reviewer.removed_at is not None or reviewer.expires_at <= reader.now:
        return None
    period = reader.session.get(StrategyPeriod, reviewer.period_id)
    claims = ReviewClaims(reviewer.id, int(reviewer.invited_at.timestamp()))
    url = review_url(reader.settings.base_url, reader.settings.secret(), claims)
    expires = reader.date(reviewer.expires_at)
    subject = reader._("Comment on the draft competence plan {period}").format(period=period.name if period else "")
    return _View(
        subject,
        {"recipient_name": reviewer.name, "url": url, "expires": expires, "period": period.name if period else ""},
    )


BUILDERS: dict[str, Builder] = {
    "task_invitation": _invitation,
    "task_reminder": _reminder,
    "escalation_manager": _escalation_manager,
    "escalation_hr": _escalation_hr,
    "evaluation_due": _evaluation_due,
    "measure_returned": _measure_returned,
    "measure_merged": _measure_merged,
    "cycle_started": _cycle_started,
    "weekly_summary": _weekly_summary,
    "tasks_reassigned_hr": _reassigned,
    "new_link": _new_link,
    "talk_scheduled": _talk_scheduled,
    "follow_up_recorded": _follow_up_recorded,
    "personal_data_link": _personal_data_link,
    "plan_review_invitation": _plan_review_invitation,
}
TEMPLATES: Sequence[str] = tuple(BUILDERS)


def compose(
    session: Session, message: QueuedMessage, settings: Settings, now: dt.datetime, batch: RenderBatch | None = None
) -> RenderedEmail | None:
    """Render a queued message as of ``now``; ``None`` when nothing in it is still worth sending.
    With ``batch``, what it reads is shared with the other messages of the batch."""
    builder = BUILDERS.get(message.template)
    if builder is None:
        raise UnknownTemplate(message.template)
    language = supported(message.language, settings.default_language)
    zone = settings.zone
    reader = _Reader(session, settings, now, language, batch)
    view = builder(reader, message)
    if view is None:
        return None
    # A subject is one header line: a line break in a typed title must not start another header.
    subject = " ".join(view.subject.split())
    recipient = reader.person(message.recipient_id)
    context = {
        **view.context,
        "subject": subject,
        # Someone outside the organisation file (a reviewer) is greeted by the name the builder found.
        "recipient_name": recipient.name if recipient is not None else view.context.get("recipient_name", ""),
        "new_link_url": reader.url(NEW_LINK_PATH),
    }
    return RenderedEmail(
        subject=subject,
        text=re.sub(r"\n{3,}", "\n\n", render(f"emails/{message.template}.txt", context, language, zone)).strip()
        + "\n",
        html=render(f"emails/{message.template}.html", context, language, zone),
        attachments=view.attachments,
    )
