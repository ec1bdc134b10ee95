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

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.orm import Session

from aarshjul.clock import end_of_day_utc
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Cycle, HumanTask, Measure
from aarshjul.domain.cycle_spec import CycleDefinition, EscalationRung
from aarshjul.domain.enums import ACTIONABLE_TASK_STATES, CycleState, MeasureState, TaskState
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.domain.progression import (
    EVALUATION_PART_KEY,
    EVALUATION_STEP_KEY,
    OrgChart,
    evaluation_natural_key,
)
from aarshjul.domain.schedule import (
    EVALUATION_ESCALATION,
    EVALUATION_REMINDERS,
    days_late,
    escalations_due,
    evaluation_date,
    reminder_due,
    reminders_passed,
)
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.advance import AdvanceReport, reconcile_cycle
from aarshjul.usecases.cycle.followups import open_due_follow_ups
from aarshjul.usecases.cycle.lifecycle import running_cycle_ids
from aarshjul.usecases.cycle.summaries import queue_weekly_summaries
from aarshjul.usecases.shared.cycles import cycle_definition, today_for
from aarshjul.usecases.shared.mail import digest, message_to
from aarshjul.usecases.shared.org import Contact, load_contacts, load_org
from aarshjul.usecases.shared.writes import insert_for, serialize
from notifications.outbox import OutgoingMessage, enqueue_many


@dataclass
class SweepReport:
    now: dt.datetime
    reminder_emails: int = 0
    reminded_tasks: int = 0
    escalation_emails: int = 0
    escalated_tasks: int = 0
    evaluations_opened: int = 0
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

    def ladder_bounds(self) -> tuple[int, int]:
        """The most days before a deadline that a reminder goes out, and the most rungs a ladder has,
        over the running cycles' steps and the evaluation and follow-up ladders: a task due later than
        that many days from now, or with that many rungs of each kind sent, has nothing due."""
        running = list(self.session.scalars(select(Cycle.id).where(Cycle.state == CycleState.RUNNING)))
        ladders = [(EVALUATION_REMINDERS, EVALUATION_ESCALATION)]
        ladders += [(s.reminders_days_before, s.escalation) for c in running for s in self.definition(c).steps]
        notice = max(d for reminders, _ in ladders for d in (*reminders, 0))
        return notice, max(max(len(reminders), len(escalation)) for reminders, escalation in ladders)


def _ladders(definition: CycleDefinition, step_key: str) -> tuple[tuple[int, ...], tuple[EscalationRung, ...]]:
    if step_key in LIVES_ON_STEP_KEYS:
        return EVALUATION_REMINDERS, EVALUATION_ESCALATION
    try:
        step = definition.step(step_key)
    except KeyError:
        return EVALUATION_REMINDERS, EVALUATION_ESCALATION
    return step.reminders_days_before, step.escalation


def _reminders_and_escalations(
    session: Session, contexts: _Contexts, now: dt.datetime, report: SweepReport
) -> list[OutgoingMessage]:
    zone = contexts.zone
    # Tasks of running cycles, and evaluation and follow-up tasks whatever their cycle's state. Only
    # those with a rung still to come and a deadline near enough for it to have come are read: on most
    # sweeps that is none of the tens of thousands of open tasks (bench/sweep.py).
    live = (Cycle.state == CycleState.RUNNING) | HumanTask.step_key.in_(LIVES_ON_STEP_KEYS)
    notice, most_rungs = contexts.ladder_bounds()
    near = contexts.today + dt.timedelta(days=notice + 1)
    rungs_left = (HumanTask.reminders_sent < most_rungs) | (HumanTask.escalation_level < most_rungs)
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
        .join(Cycle, Cycle.id == HumanTask.cycle_id)
        .where(HumanTask.state.in_(ACTIONABLE_TASK_STATES), HumanTask.due_on <= near, live, rungs_left)
        .order_by(HumanTask.id)
    ).all()
    reminders: dict[int, list[tuple[int, int, int, dt.date]]] = defaultdict(list)  # person -> (task, rung, days, due)
    escalations: dict[tuple[str, int], list[dict[str, int]]] = defaultdict(list)  # (to, person) -> late items
    updates: list[dict[str, int]] = []
    for row in rows:
        reminder_ladder, escalation_ladder = _ladders(contexts.definition(row.cycle_id), row.step_key)
        sent, level = row.reminders_sent, row.escalation_level
        if now >= end_of_day_utc(row.due_on, zone):
            # Past the deadline a reminder would come too late; the ladder is spent without an email.
            sent = max(sent, reminders_passed(row.due_on, reminder_ladder, now, zone))
        else:
            due = reminder_due(row.due_on, reminder_ladder, sent, now, zone)
            if due is not None:
                sent = due.rungs_sent
                reminders[row.assignee_id].append((row.id, sent, due.days_left, row.due_on))
        rungs, level = escalations_due(row.due_on, escalation_ladder, level, now, zone)
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
    """An approved measure whose evaluation date has come gets one evaluation task for its owner; each
    owner gets one email per sweep for the evaluations it opened for them."""
    has_task = exists().where(HumanTask.measure_id == Measure.id, HumanTask.step_key == EVALUATION_STEP_KEY)
    candidates = session.execute(
        select(Measure.id, Measure.cycle_id, Measure.unit_id, Measure.owner_id, Measure.evaluate_on, Measure.last_year)
        .where(
            Measure.state == MeasureState.APPROVED,
            ~has_task,
            # A superset of the measures whose evaluation date has come, checked exactly below.
            (Measure.evaluate_on <= contexts.today)
            | (Measure.evaluate_on.is_(None) & (Measure.last_year <= contexts.today.year)),
        )
        .order_by(Measure.id)
    ).all()
    rows = []
    for m in candidates:
        if evaluation_date(m.evaluate_on, m.last_year) > contexts.today:
            continue
        org, definition = contexts.org(m.cycle_id), contexts.definition(m.cycle_id)
        owner = m.owner_id if org.is_active(m.owner_id) else org.acting_leader(m.unit_id)
        if owner is None:
            continue
        due = contexts.today + dt.timedelta(days=definition.evaluation_days_to_respond)
        rows.append(
            {
                "natural_key": evaluation_natural_key(m.id),
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
            }
        )
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
