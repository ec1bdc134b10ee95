"""The time-driven work, run on a schedule and by ``aarshjul sweep --now``: reminders before
deadlines, escalations after them, evaluation tasks when a measure's evaluation date comes,
follow-up tasks when a talk's follow-up date comes, and the reconcile of every running cycle as a
safety net (``reconcile_cycle``: in full once a day, else the advances still owed).

Each rung of a ladder is sent once per task (the task row counts the rungs sent) and a person gets
one email per sweep however many of their tasks it concerns.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, bindparam, false, func, or_, select, update
from sqlalchemy.orm import Session

from aarshjul.clock import end_of_day_utc
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Cycle, HumanTask, Measure, MeasureParticipant, Submission
from aarshjul.domain.cycle_spec import CycleDefinition, EscalationRung
from aarshjul.domain.enums import ACTIONABLE_TASK_STATES, CycleState, FormKey, MeasureState, TaskState
from aarshjul.domain.followups import (
    FEEDBACK_DAYS_TO_RESPOND,
    FEEDBACK_PART_KEY,
    FEEDBACK_STEP_KEY,
    LIVES_ON_STEP_KEYS,
    feedback_natural_key,
)
from aarshjul.domain.progression import (
    EVALUATION_PART_KEY,
    EVALUATION_STEP_KEY,
    OrgChart,
    evaluation_natural_key,
)
from aarshjul.domain.schedule import (
    EVALUATION_ESCALATION,
    EVALUATION_REMINDERS,
    FEEDBACK_REMINDERS,
    ReminderDue,
    days_late,
    due_evaluation_round,
    escalations_due,
    reminder_due,
    reminders_passed,
)
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.advance import AdvanceReport, reconcile_cycle
from aarshjul.usecases.cycle.followups import open_due_follow_ups
from aarshjul.usecases.cycle.lifecycle import running_cycle_ids
from aarshjul.usecases.cycle.summaries import queue_weekly_summaries
from aarshjul.usecases.shared.cycles import cycle_definition, today_for
from aarshjul.usecases.shared.mail import digest, message_to, queue_invitations
from aarshjul.usecases.shared.org import Contact, load_contacts, load_org
from aarshjul.usecases.shared.writes import insert_for, serialize
from forms.models import NextStep
from notifications.outbox import OutgoingMessage, enqueue_many


@dataclass
class SweepReport:
    now: dt.datetime
    reminder_emails: int = 0
    reminded_tasks: int = 0
    escalation_emails: int = 0
    escalated_tasks: int = 0
    evaluations_opened: int = 0
    surveys_opened: int = 0  #: participants' surveys opened with this sweep's evaluations
    surveys_closed: int = 0  #: surveys unanswered when they closed
    follow_ups_opened: int = 0
    weekly_summaries: int = 0
    advanced: list[AdvanceReport] = field(default_factory=list)


def sweep(runtime: Runtime, now: dt.datetime | None = None, advance: bool = True) -> SweepReport:
    """Do everything that is due as of ``now`` (default: the runtime's clock).

    ``advance=False`` leaves out the reconcile of the running cycles (``reconcile_cycle``), for the
    flow that runs those as tasks of their own.
    """
    now = now or runtime.clock()
    if now.tzinfo is None:
        raise ValueError("sweep needs an aware datetime")
    report = SweepReport(now=now)
    for cycle_id in running_cycle_ids(runtime) if advance else []:
        report.advanced.append(reconcile_cycle(runtime, cycle_id, now=now))
    with unit_of_work(runtime.sessions) as session:
        serialize(session, "sweep")
        contexts = _Contexts(session, runtime, now)
        messages: list[OutgoingMessage] = []
        messages += _reminders_and_escalations(session, contexts, now, report)
        report.surveys_closed = _close_surveys(session, contexts.today, now)
        messages += _evaluations(session, contexts, now, report)
        enqueue_many(session, messages, now)
        follow_ups = open_due_follow_ups(session, now, contexts.today, contexts.zone)
        report.follow_ups_opened = follow_ups.tasks
        report.weekly_summaries = queue_weekly_summaries(session, now, contexts.zone)
    if messages or report.weekly_summaries or follow_ups.invitations:
        runtime.triggers.dispatch()
    return report


class _Contexts:
    """What the time-driven work reads besides the tasks, each loaded once per sweep and only when a
    due task needs it: a cycle's definition (its ladders), its organisation (who a late task escalates
    to, who evaluates a measure whose owner left), and the addresses of the people written to."""

    def __init__(self, session: Session, runtime: Runtime, now: dt.datetime) -> None:
        self.session = session
        self.zone = runtime.settings.zone
        self.today = today_for(now, self.zone)
        self._cycles: dict[int, Cycle] = {}
        self._definitions: dict[int, CycleDefinition] = {}
        self._orgs: dict[int, OrgChart] = {}
        self._contacts: dict[int, Contact] = {}

    def _cycle(self, cycle_id: int) -> Cycle:
        if cycle_id not in self._cycles:
            cycle = self.session.get(Cycle, cycle_id)
            if cycle is None:
                raise LookupError(f"cycle {cycle_id} vanished during the sweep")
            self._cycles[cycle_id] = cycle
        return self._cycles[cycle_id]

    def definition(self, cycle_id: int) -> CycleDefinition:
        if cycle_id not in self._definitions:
            self._definitions[cycle_id] = cycle_definition(self.session, self._cycle(cycle_id))
        return self._definitions[cycle_id]

    def org(self, cycle_id: int) -> OrgChart:
        organisation_id = self._cycle(cycle_id).organisation_id
        if organisation_id not in self._orgs:
            self._orgs[organisation_id], _ = load_org(self.session, organisation_id, self.today)
        return self._orgs[organisation_id]

    def contacts(self, person_ids: Iterable[int]) -> dict[int, Contact]:
        missing = set(person_ids) - set(self._contacts)
        if missing:
            self._contacts.update(load_contacts(self.session, missing))
        return self._contacts

    def running_cycles(self) -> list[int]:
        return list(self.session.scalars(select(Cycle.id).where(Cycle.state == CycleState.RUNNING)))


def _ladders(definition: CycleDefinition | None, step_key: str) -> tuple[tuple[int, ...], tuple[EscalationRung, ...]]:
    if step_key == FEEDBACK_STEP_KEY:
        # Answering a survey is voluntary: a reminder, never an escalation to the manager.
        return FEEDBACK_REMINDERS, ()
    if step_key in LIVES_ON_STEP_KEYS or definition is None:
        return EVALUATION_REMINDERS, EVALUATION_ESCALATION
    try:
        step = definition.step(step_key)
    except KeyError:
        return EVALUATION_REMINDERS, EVALUATION_ESCALATION
    return step.reminders_days_before, step.escalation


def _rungs_now(
    ladders: tuple[tuple[int, ...], tuple[EscalationRung, ...]],
    due_on: dt.date,
    sent: int,
    level: int,
    now: dt.datetime,
    zone: ZoneInfo,
) -> tuple[int, ReminderDue | None, int, list[EscalationRung]]:
    """A task's rungs as of ``now``: its new count of reminders sent and the reminder to send, if any;
    its new escalation level and the escalation rungs to send."""
    reminder_ladder, escalation_ladder = ladders
    reminder = None
    if now >= end_of_day_utc(due_on, zone):
        # Past the deadline a reminder would come too late; the ladder is spent without an email.
        sent = max(sent, reminders_passed(due_on, reminder_ladder, now, zone))
    else:
        reminder = reminder_due(due_on, reminder_ladder, sent, now, zone)
        if reminder is not None:
            sent = reminder.rungs_sent
    rungs, level = escalations_due(due_on, escalation_ladder, level, now, zone)
    return sent, reminder, level, rungs


def _rung_may_have_come(contexts: _Contexts) -> ColumnElement[bool]:
    """The open tasks that may have a reminder or escalation rung due, as a condition on the task's own
    columns: its ladders (by cycle and step), the rungs it has had and how near its deadline is. The
    tasks of running cycles, and evaluation, follow-up and survey tasks whatever their cycle's state.
    On most sweeps that is none of the tens of thousands of open tasks, and a task whose ladders are
    spent (long overdue) is never read again (bench/sweep.py). A superset: the rows read are checked
    exactly, so the conditions allow a day either way for the time zone."""
    today = contexts.today
    conditions: list[ColumnElement[bool]] = []

    def due(reminders: tuple[int, ...], escalation: tuple[EscalationRung, ...]) -> ColumnElement[bool] | None:
        either: list[ColumnElement[bool]] = []
        if reminders:
            # A rung N days before the deadline comes as that day begins; past the deadline the ladder is
            # spent (without an email), which also needs the row.
            latest = today + dt.timedelta(days=max(reminders) + 1)
            either.append((HumanTask.reminders_sent < len(set(reminders))) & (HumanTask.due_on <= latest))
        if escalation:
            # A rung N days after the deadline comes as that day ends.
            latest = today - dt.timedelta(days=min(rung.after_days for rung in escalation) - 1)
            either.append((HumanTask.escalation_level < len(escalation)) & (HumanTask.due_on <= latest))
        return or_(*either) if either else None

    for cycle_id in contexts.running_cycles():
        definition = contexts.definition(cycle_id)
        for step in definition.steps:
            if (rung := due(step.reminders_days_before, step.escalation)) is not None:
                conditions.append((HumanTask.cycle_id == cycle_id) & (HumanTask.step_key == step.key) & rung)
        # A task of a step the definition no longer has gets the evaluation's ladders (``_ladders``).
        known = [step.key for step in definition.steps] + sorted(LIVES_ON_STEP_KEYS)
        if (rung := due(EVALUATION_REMINDERS, EVALUATION_ESCALATION)) is not None:
            conditions.append((HumanTask.cycle_id == cycle_id) & HumanTask.step_key.not_in(known) & rung)
    for step_key in sorted(LIVES_ON_STEP_KEYS):
        if (rung := due(*_ladders(None, step_key))) is not None:
            conditions.append((HumanTask.step_key == step_key) & rung)
    return or_(false(), *conditions)


def _reminders_and_escalations(
    session: Session, contexts: _Contexts, now: dt.datetime, report: SweepReport
) -> list[OutgoingMessage]:
    zone = contexts.zone
    rows = session.execute(
        select(
            HumanTask.id,
            HumanTask.cycle_id,
            HumanTask.step_key,
            HumanTask.assignee_id,
            HumanTask.due_on,
            HumanTask.reminders_sent,
            HumanTask.escalation_level,
        )
        .where(HumanTask.state.in_(ACTIONABLE_TASK_STATES), _rung_may_have_come(contexts))
        .order_by(HumanTask.id)
    ).all()
    reminders: dict[int, list[tuple[int, int, int, dt.date]]] = defaultdict(list)  # person -> (task, rung, days, due)
    escalations: dict[tuple[str, int], list[dict[str, int]]] = defaultdict(list)  # (to, person) -> late items
    updates: list[dict[str, int]] = []
    for row in rows:
        ladders = _ladders(contexts.definition(row.cycle_id), row.step_key)
        rungs_now = _rungs_now(ladders, row.due_on, row.reminders_sent, row.escalation_level, now, zone)
        sent, reminder, level, rungs = rungs_now
        if reminder is not None:
            reminders[row.assignee_id].append((row.id, sent, reminder.days_left, row.due_on))
        for index, rung in enumerate(rungs, start=level - len(rungs) + 1):
            org = contexts.org(row.cycle_id)
            target = org.manager_of(row.assignee_id) if rung.to == "manager" else org.hr()
            if target is None:
                continue
            escalations[(rung.to, target)].append(
                {
                    "task_id": row.id,
                    "person_id": row.assignee_id,
                    "days_late": days_late(row.due_on, now, zone),
                    "rung": index,
                    "due": row.due_on.toordinal(),
                }
            )
        if (sent, level) != (row.reminders_sent, row.escalation_level):
            updates.append({"b_id": row.id, "b_sent": sent, "b_level": level})
    if updates:
        table = cast(Table, HumanTask.__table__)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(reminders_sent=bindparam("b_sent"), escalation_level=bindparam("b_level")),
            updates,
        )
    contacts = contexts.contacts([*reminders, *(person for _, person in escalations)])
    messages: list[OutgoingMessage] = []
    for person_id, items in sorted(reminders.items()):
        if person_id not in contacts:
            continue
        # The due date is part of the key: after an extension the ladder runs again for the new date.
        key = f"task_reminder:{person_id}:{digest(f'{t}.{r}.{due}' for t, r, _, due in items)}"
        context_data = {"task_ids": [t for t, _, _, _ in items], "days_left": min(d for _, _, d, _ in items)}
        messages.append(message_to(contacts[person_id], key, "task_reminder", context_data, now))
        report.reminder_emails += 1
        report.reminded_tasks += len(items)
    for (to, person_id), late in sorted(escalations.items()):
        if person_id not in contacts:
            continue
        template = "escalation_manager" if to == "manager" else "escalation_hr"
        fingerprint = digest(f"{i['task_id']}.{i['rung']}.{i['due']}" for i in late)
        key = f"{template}:{person_id}:{fingerprint}"
        shown = [{k: v for k, v in i.items() if k not in ("rung", "due")} for i in late]
        messages.append(message_to(contacts[person_id], key, template, {"late": shown}, now))
        report.escalation_emails += 1
        report.escalated_tasks += len(late)
    return messages


def _evaluations(session: Session, contexts: _Contexts, now: dt.datetime, report: SweepReport) -> list[OutgoingMessage]:
    """An approved measure is evaluated once for each year it runs, when that year's evaluation date
    comes: one task for its owner, and the participants' short survey (``_surveys``). Each owner gets
    one email per sweep for the evaluations it opened for them."""
    candidates = session.execute(
        select(
            Measure.id,
            Measure.cycle_id,
            Measure.unit_id,
            Measure.owner_id,
            Measure.evaluate_on,
            Measure.first_year,
            Measure.last_year,
        )
        .where(
            Measure.state.in_((MeasureState.APPROVED, MeasureState.EVALUATED)),
            # A superset of the measures with an evaluation round that may have come, checked exactly below.
            Measure.first_year <= contexts.today.year,
        )
        .order_by(Measure.id)
    ).all()
    opened = set(
        session.scalars(
            select(HumanTask.natural_key).where(
                HumanTask.step_key == EVALUATION_STEP_KEY, HumanTask.measure_id.in_([m.id for m in candidates])
            )
        )
    )
    stopped = _stopped_measures(session, [m.id for m in candidates])
    rows = []
    rounds: list[tuple[int, int, int, int]] = []  # (measure, year, cycle, unit) of the rounds opening now
    for m in candidates:
        due_round = due_evaluation_round(m.evaluate_on, m.first_year, m.last_year, contexts.today)
        if due_round is None or m.id in stopped:
            continue
        year = due_round[0]
        key = evaluation_natural_key(m.id, year)
        if key in opened:
            continue
        org, definition = contexts.org(m.cycle_id), contexts.definition(m.cycle_id)
        owner = m.owner_id if org.is_active(m.owner_id) else org.acting_leader(m.unit_id)
        if owner is None:
            continue
        due = contexts.today + dt.timedelta(days=definition.evaluation_days_to_respond)
        rounds.append((m.id, year, m.cycle_id, m.unit_id))
        rows.append(
            {
                "natural_key": key,
                "cycle_id": m.cycle_id,
                "unit_id": m.unit_id,
                "step_key": EVALUATION_STEP_KEY,
                "part_key": EVALUATION_PART_KEY,
                "form_key": definition.evaluation_form,
                "subject_person_id": None,
                "measure_id": m.id,
                "assignee_id": owner,
                "state": TaskState.OPEN,
                "due_on": due,
                "reminders_sent": reminders_passed(due, EVALUATION_REMINDERS, now, contexts.zone),
                "escalation_level": 0,
                "link_version": 1,
                "created_at": now,
                "submitted_at": None,
                "closed_at": None,
                "evaluation_year": year,
            }
        )
    report.surveys_opened += _surveys(session, contexts, now, rounds)
    if not rows:
        return []
    insert = insert_for(session)
    created = session.execute(
        insert(HumanTask)
        .on_conflict_do_nothing(index_elements=["natural_key"])
        .returning(HumanTask.id, HumanTask.assignee_id, HumanTask.cycle_id),
        rows,
    ).all()
    report.evaluations_opened += len(created)
    # An owner with several evaluations opening in one sweep gets one email listing them all.
    by_owner: dict[int, list[int]] = defaultdict(list)
    contacts = contexts.contacts(task.assignee_id for task in created)
    for task in created:
        if task.assignee_id in contacts:
            by_owner[task.assignee_id].append(task.id)
    messages = []
    for owner_id, task_ids in sorted(by_owner.items()):
        task_ids.sort()
        key = f"evaluation_due:{owner_id}:{digest(task_ids)}"
        messages.append(message_to(contacts[owner_id], key, "evaluation_due", {"task_ids": task_ids}, now))
    return messages


def _stopped_measures(session: Session, measure_ids: list[int]) -> set[int]:
    """Measures whose newest evaluation said stop: they no longer run, so no later round opens."""
    if not measure_ids:
        return set()
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .join(HumanTask, HumanTask.id == Submission.task_id)
        .where(
            HumanTask.measure_id.in_(measure_ids),
            HumanTask.step_key == EVALUATION_STEP_KEY,
            Submission.is_draft.is_(False),
        )
        .group_by(Submission.task_id)
        .subquery()
    )
    latest: dict[int, tuple[int, str]] = {}
    for measure_id, year, data in session.execute(
        select(HumanTask.measure_id, HumanTask.evaluation_year, Submission.data)
        .join(newest, newest.c.task_id == HumanTask.id)
        .join(Submission, and_(Submission.task_id == newest.c.task_id, Submission.version == newest.c.version))
    ):
        said = str((data or {}).get("next_step", ""))
        if measure_id not in latest or (year or 0) >= latest[measure_id][0]:
            latest[measure_id] = (year or 0, said)
    return {measure_id for measure_id, (_, said) in latest.items() if said == NextStep.STOP}


def _surveys(session: Session, contexts: _Contexts, now: dt.datetime, rounds: list[tuple[int, int, int, int]]) -> int:
    """The short survey (Kirkpatrick levels 1 and 2) for the participants of each round opening now:
    the employees whose talk record's development plan names the measure, in the round's year or
    before, who still work here. Each is invited by email like any task; it closes after two weeks."""
    if not rounds:
        return 0
    participants: dict[int, list[tuple[int, int]]] = defaultdict(list)  # measure -> (person, talk year)
    for measure_id, person_id, year in session.execute(
        select(MeasureParticipant.measure_id, MeasureParticipant.person_id, Cycle.year)
        .join(HumanTask, HumanTask.id == MeasureParticipant.talk_task_id)
        .join(Cycle, Cycle.id == HumanTask.cycle_id)
        .where(MeasureParticipant.measure_id.in_([r[0] for r in rounds]))
    ):
        participants[measure_id].append((person_id, year))
    due = contexts.today + dt.timedelta(days=FEEDBACK_DAYS_TO_RESPOND)
    rows = []
    for measure_id, year, cycle_id, unit_id in rounds:
        org = contexts.org(cycle_id)
        people = sorted(
            {p for p, talk_year in participants.get(measure_id, []) if talk_year <= year and org.is_active(p)}
        )
        rows += [
            {
                "natural_key": feedback_natural_key(measure_id, year, person),
                "cycle_id": cycle_id,
                "unit_id": unit_id,
                "step_key": FEEDBACK_STEP_KEY,
                "part_key": FEEDBACK_PART_KEY,
                "form_key": FormKey.MEASURE_FEEDBACK,
                "subject_person_id": person,
                "measure_id": measure_id,
                "assignee_id": person,
                "state": TaskState.OPEN,
                "due_on": due,
                "reminders_sent": reminders_passed(due, FEEDBACK_REMINDERS, now, contexts.zone),
                "escalation_level": 0,
                "link_version": 1,
                "created_at": now,
                "submitted_at": None,
                "closed_at": None,
                "evaluation_year": year,
            }
            for person in people
        ]
    if not rows:
        return 0
    created = session.execute(
        insert_for(session)(HumanTask)
        .on_conflict_do_nothing(index_elements=["natural_key"])
        .returning(HumanTask.id, HumanTask.assignee_id, HumanTask.link_version),
        rows,
    ).all()
    queue_invitations(
        session,
        [(t.id, t.assignee_id, t.link_version) for t in created],
        contexts.contacts(t.assignee_id for t in created),
        now,
    )
    return len(created)


def _close_surveys(session: Session, today: dt.date, now: dt.datetime) -> int:
    """A survey unanswered by its date closes: the owner then sees a settled picture, and no late
    answer can change it (which would tell who answered late)."""
    closed = session.execute(
        update(HumanTask)
        .where(
            HumanTask.step_key == FEEDBACK_STEP_KEY,
            HumanTask.state.in_(ACTIONABLE_TASK_STATES),
            HumanTask.due_on < today,
        )
        .values(state=TaskState.CANCELLED, closed_at=now)
    )
    return int(closed.rowcount or 0)  # type: ignore[attr-defined]
