"""The status board: where every unit stands on every step of one cycle.

One document (``CycleStatus``) serves the board page, ``GET /api/cycles/{id}/status``, its CSV and
``aarshjul cycle status --json``. It is built from a handful of set-based queries (units, unit steps,
task counts grouped in SQL, late tasks, failed emails) whatever the size of the organisation.

The board shows units and the process. The late list names people next to their late tasks because
someone has to act on them; it is ordered by the organisation tree and the step, never by how late a
person is, and nothing here scores or ranks individuals.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from aarshjul.db.models import (
    Cycle,
    CycleDefinitionRecord,
    HumanTask,
    Person,
    Submission,
    Unit,
    UnitStep,
)
from aarshjul.domain.cycle_spec import CycleDefinition, StepSpec, parse_definition
from aarshjul.domain.enums import PartScope, TaskState, UnitStepState
from aarshjul.domain.errors import InvalidInput, NotFound
from aarshjul.domain.followups import FOLLOW_UP_NAME, FOLLOW_UP_STEP_KEY, LIVES_ON_STEP_KEYS
from aarshjul.usecases.answers import FormField, flatten, name_references
from aarshjul.usecases.followups import follow_up_counts
from aarshjul.usecases.spreadsheets import csv_text
from aarshjul.usecases.submissions import EVALUATION_NAME
from forms.registry import FORMS
from notifications.status import failed_notifications

EVALUATION_STEP_KEY = "evaluation"
ACTIONABLE = (TaskState.OPEN.value, TaskState.RETURNED.value)
_LIVE = (TaskState.OPEN.value, TaskState.SUBMITTED.value, TaskState.RETURNED.value)
_SUBMITTED = TaskState.SUBMITTED.value
LATE_LIST_LIMIT = 500  #: the page and the JSON list at most this many late tasks; ``late_total`` has them all
FAILED_LIST_LIMIT = 200  #: the newest this many undeliverable emails


class CellState(StrEnum):
    """What one board cell (a unit on a step) says."""

    NOT_STARTED = "not_started"  #: the step has not opened for the unit (its inputs are not done)
    OPEN = "open"  #: tasks are out and none of them is past its deadline
    DONE = "done"  #: every task of the step is in
    OVERDUE = "overdue"  #: at least one open task is past its deadline
    ESCALATED = "escalated"  #: at least one late task has gone to the leader's manager or to HR
    SKIPPED = "skipped"  #: nothing to do (a unit without staff on a per-employee step)


_Model = ConfigDict(frozen=True)


class BoardFilters(BaseModel):
    model_config = _Model

    unit_id: int | None = Field(default=None, description="Show only this unit and the units below it")
    step: str | None = Field(default=None, description="Show only this step")
    late_only: bool = Field(default=False, description="Show only units with overdue or escalated tasks")


class LocalizedName(BaseModel):
    model_config = _Model
    nb: str
    en: str


class FollowUps(BaseModel):
    """Follow-ups of the talks' development plans (principle 3): how many are written and how many
    wait. Counts only: what a follow-up says stays between the employee and the leader."""

    model_config = _Model
    done: int = 0
    open: int = 0


class Counts(BaseModel):
    """For per-employee steps: how many employees are through the step, of how many."""

    model_config = _Model
    done: int
    total: int


class CycleInfo(BaseModel):
    model_config = _Model
    id: int
    year: int
    state: str
    starts_on: dt.date
    definition_key: str
    definition_version: int


class StepColumn(BaseModel):
    model_config = _Model
    key: str
    number: int
    names: LocalizedName
    due_on: dt.date
    depends_on: list[str]
    per_employee: bool
    units_by_state: dict[CellState, int] = Field(description="How many units' cells are in each state")
    people: Counts | None = Field(default=None, description="Per-employee steps: employees through / all")


class UnitCell(BaseModel):
    model_config = _Model
    step_key: str
    state: CellState
    due_on: dt.date | None
    counts: Counts | None = None
    late_tasks: int = 0


class UnitRow(BaseModel):
    model_config = _Model
    id: int
    code: str
    name: str
    parent_id: int | None
    depth: int
    cells: list[UnitCell]
    follow_ups: FollowUps | None = Field(default=None, description="Follow-ups of the unit's talks; none yet: null")


class LateTask(BaseModel):
    model_config = _Model
    task_id: int
    step_key: str
    part_key: str
    form_key: str
    task_name: LocalizedName = Field(description="The step and part, or 'follow-up' / 'measure evaluation'")
    person_id: int
    person_name: str
    unit_id: int
    unit_name: str
    due_on: dt.date
    days_late: int
    escalation_rung: int = Field(description="0: not escalated; 1: to the leader's manager; 2: to HR")


class FailedEmail(BaseModel):
    model_config = _Model
    notification_id: int
    to_email: str
    recipient_name: str | None
    template: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime


class CycleStatus(BaseModel):
    """The board of one cycle. Stable: fields are only ever added."""

    model_config = _Model
    cycle: CycleInfo
    today: dt.date
    filters: BoardFilters
    steps: list[StepColumn]
    units: list[UnitRow]
    late: list[LateTask] = Field(
        description="Late tasks in tree order, then step; without a step filter also late follow-ups and evaluations"
    )
    late_total: int
    failed_emails: list[FailedEmail]
    follow_ups: FollowUps = Field(default_factory=FollowUps, description="Follow-ups of the shown units' talks")

    def as_text(self, language: str = "en") -> str:
        lines = [f"Cycle {self.cycle.id} ({self.cycle.year}), {self.cycle.state}; as of {self.today.isoformat()}"]
        for step in self.steps:
            states = ", ".join(f"{state.value} {n}" for state, n in step.units_by_state.items() if n)
            people = f"; employees {step.people.done}/{step.people.total}" if step.people else ""
            name = step.names.en if language == "en" else step.names.nb
            lines.append(f"  {step.number}. {name} (due {step.due_on.isoformat()}): {states}{people}")
        lines.append(f"Late tasks: {self.late_total}; failed emails: {len(self.failed_emails)}")
        return "\n".join(lines)


# --- building it --------------------------------------------------------------------------------


def latest_cycle_id(session: Session) -> int | None:
    """The running cycle of the latest year, else the latest cycle of any state."""
    return session.scalar(
        select(Cycle.id).order_by((Cycle.state == "running").desc(), Cycle.year.desc(), Cycle.id.desc()).limit(1)
    )


def load_cycle(session: Session, cycle_id: int) -> tuple[Cycle, CycleDefinition]:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"cycle {cycle_id} does not exist")
    record = session.get(CycleDefinitionRecord, cycle.definition_id)
    if record is None:
        raise NotFound(f"cycle {cycle_id} has no stored definition")
    return cycle, parse_definition(record.content, f"cycle {cycle_id} definition")


def _first_and_last_parts(step: StepSpec) -> tuple[set[str], set[str]]:
    employee_parts = [p for p in step.parts if p.scope is PartScope.EMPLOYEE]
    followed = {p.after for p in employee_parts if p.after}
    first = {p.key for p in employee_parts if p.after is None}
    last = {p.key for p in employee_parts if p.key not in followed}
    return first, last


class _UnitInfo:
    __slots__ = ("id", "code", "name", "parent_id", "leader_id", "active")

    def __init__(self, row: Any) -> None:
        self.id: int = row.id
        self.code: str = row.code
        self.name: str = row.name
        self.parent_id: int | None = row.parent_id
        self.leader_id: int | None = row.leader_id
        self.active: bool = bool(row.active)


def tree_order(units: Iterable[_UnitInfo]) -> list[tuple[_UnitInfo, int]]:
    """Units depth-first (parents before children, siblings by name) with their depth."""
    by_id = {u.id: u for u in units}
    children: dict[int | None, list[_UnitInfo]] = defaultdict(list)
    for unit in by_id.values():
        parent = unit.parent_id if unit.parent_id in by_id else None
        children[parent].append(unit)
    for siblings in children.values():
        siblings.sort(key=lambda u: (u.name.lower(), u.id))
    ordered: list[tuple[_UnitInfo, int]] = []
    stack: list[tuple[_UnitInfo, int]] = [(u, 0) for u in reversed(children[None])]
    seen: set[int] = set()
    while stack:
        unit, depth = stack.pop()
        if unit.id in seen:
            continue
        seen.add(unit.id)
        ordered.append((unit, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(unit.id, [])))
    return ordered


def subtree(units: Iterable[_UnitInfo], root_id: int) -> set[int]:
    children: dict[int | None, list[int]] = defaultdict(list)
    for unit in units:
        children[unit.parent_id].append(unit.id)
    found: set[int] = set()
    stack = [root_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return found


def _units(session: Session, cycle: Cycle) -> list[_UnitInfo]:
    in_cycle = select(UnitStep.unit_id).where(UnitStep.cycle_id == cycle.id).distinct()
    rows = session.connection().execute(
        select(Unit.id, Unit.code, Unit.name, Unit.parent_id, Unit.leader_id, Unit.active).where(
            Unit.organisation_id == cycle.organisation_id, (Unit.active.is_(True)) | Unit.id.in_(in_cycle)
        )
    )
    return [_UnitInfo(r) for r in rows]


def _direct_report_counts(session: Session, cycle: Cycle, units: list[_UnitInfo], today: dt.date) -> dict[int, int]:
    """Per unit, how many people report to its leader: members other than the leader, and the
    leaders of its child units. Used for per-employee steps that have not opened yet."""
    active = and_(
        (Person.active_from.is_(None)) | (Person.active_from <= today),
        (Person.active_to.is_(None)) | (Person.active_to >= today),
    )
    rows = session.connection().execute(
        select(Person.unit_id, func.count())
        .join(Unit, Unit.id == Person.unit_id)
        .where(Person.organisation_id == cycle.organisation_id, active)
        .where((Unit.leader_id.is_(None)) | (Unit.leader_id != Person.id))
        .group_by(Person.unit_id)
    )
    counts: dict[int, int] = {unit_id: n for unit_id, n in rows}
    for unit in units:
        if unit.parent_id is not None and unit.leader_id is not None and unit.active:
            counts[unit.parent_id] = counts.get(unit.parent_id, 0) + 1
    return counts


def cycle_status(
    session: Session, cycle_id: int, filters: BoardFilters | None = None, *, today: dt.date
) -> CycleStatus:
    """The board of a cycle as of ``today`` (the organisation's local date)."""
    return CycleStatus.model_validate(_status_document(session, cycle_id, filters or BoardFilters(), today))


def cycle_status_json(session: Session, cycle_id: int, filters: BoardFilters | None = None, *, today: dt.date) -> bytes:
    """The board as JSON: the bytes ``cycle_status(...).model_dump_json()`` gives, serialised straight
    from the plain document. The API answers with this; for 10,000 people the models alone (thousands
    of objects to build, then to walk again for the JSON) cost more than all the queries."""
    return to_json(_status_document(session, cycle_id, filters or BoardFilters(), today))


def _status_document(session: Session, cycle_id: int, filters: BoardFilters, today: dt.date) -> dict[str, Any]:
    """``CycleStatus`` as plain values: every key in the models' field order and every default
    written out, so that serialising it gives the same JSON as the validated model."""
    # Core rows, not ORM rows, and grouped in SQL: the board reads no task one by one, except the
    # late ones it lists.
    connection = session.connection()
    cycle, definition = load_cycle(session, cycle_id)
    all_steps = list(definition.active_steps)
    if filters.step is not None and filters.step not in {s.key for s in all_steps}:
        raise InvalidInput("step", f"no step {filters.step!r} in this cycle")
    steps = [s for s in all_steps if filters.step is None or s.key == filters.step]
    step_keys = {s.key for s in steps}
    step_due = {k: dt.date.fromisoformat(v) for k, v in cycle.step_due.items()}

    units = _units(session, cycle)
    ordered = tree_order(units)
    if filters.unit_id is not None:
        if filters.unit_id not in {u.id for u in units}:
            raise InvalidInput("unit_id", f"no unit {filters.unit_id} in this cycle")
        visible = subtree(units, filters.unit_id)
        base_depth = next(d for u, d in ordered if u.id == filters.unit_id)
        ordered = [(u, d - base_depth) for u, d in ordered if u.id in visible]
    visible_ids = {u.id for u, _ in ordered}

    # Per step, per unit: the stored state and due date of the unit's step.
    stored_state: dict[str, dict[int, str]] = {key: {} for key in step_keys}
    stored_due: dict[str, dict[int, dt.date]] = {key: {} for key in step_keys}
    for unit_id, step_key, state, due_on in connection.execute(
        select(UnitStep.unit_id, UnitStep.step_key, UnitStep.state, UnitStep.due_on).where(
            UnitStep.cycle_id == cycle.id, UnitStep.step_key.in_(step_keys)
        )
    ).all():
        stored_state[step_key][unit_id] = state
        stored_due[step_key][unit_id] = due_on

    # Per unit and step (follow-ups and evaluations included): late tasks and escalated tasks. Only
    # open tasks past their deadline or escalated are read, grouped.
    is_late = HumanTask.due_on < today
    is_escalated = HumanTask.escalation_level > 0
    late: dict[str, dict[int, int]] = {}
    escalated: dict[str, dict[int, int]] = {}
    for unit_id, step_key, n_late, n_escalated in connection.execute(
        select(
            HumanTask.unit_id,
            HumanTask.step_key,
            func.sum(case((is_late, 1), else_=0)),
            func.sum(case((is_escalated, 1), else_=0)),
        )
        .where(HumanTask.cycle_id == cycle.id, HumanTask.state.in_(ACTIONABLE), or_(is_late, is_escalated))
        .group_by(HumanTask.unit_id, HumanTask.step_key)
    ).all():
        if n_late:
            late.setdefault(step_key, {})[unit_id] = int(n_late)
        if n_escalated:
            escalated.setdefault(step_key, {})[unit_id] = int(n_escalated)

    per_employee = {s.key: _first_and_last_parts(s) for s in steps if s.per_employee}
    people = _people_counts(session, cycle.id, per_employee)
    # Per-employee steps that have not opened count the people reporting to the unit's leader.
    not_started = (None, _NOT_STARTED)
    reports = (
        _direct_report_counts(session, cycle, units, today)
        if any(stored_state[key].get(u.id) in not_started for key in per_employee for u, _ in ordered)
        else {}
    )
    follow_ups = follow_up_counts(session, cycle.id)
    unit_order = {u.id: i for i, (u, _) in enumerate(ordered)}
    unit_names = {u.id: u.name for u in units}
    # Follow-ups and evaluations belong to no step: listed when the board is not narrowed to one.
    late_keys = step_keys if filters.step is not None else step_keys | LIVES_ON_STEP_KEYS
    late_per_unit: dict[int, int] = defaultdict(int)
    for key in late_keys:
        for unit_id, n in late.get(key, {}).items():
            if unit_id in visible_ids:
                late_per_unit[unit_id] += n
    # The list shows the first LATE_LIST_LIMIT in tree order, so only the first units' late tasks
    # are read.
    listed_units: list[int] = []
    listed = 0
    for unit, _ in ordered:
        if listed >= LATE_LIST_LIMIT:
            break
        if unit.id in late_per_unit:
            listed_units.append(unit.id)
            listed += late_per_unit[unit.id]
    late_list = _late_tasks(session, cycle.id, today, listed_units, late_keys, unit_order, unit_names, definition)

    rows: list[dict[str, Any]] = []
    totals: dict[str, dict[str, int]] = {s.key: dict.fromkeys((c.value for c in CellState), 0) for s in steps}
    people_totals: dict[str, list[int]] = {key: [0, 0] for key in per_employee}
    follow_up_total = [0, 0]
    # What each column needs, looked up once rather than once per unit.
    no_counts: dict[int, int] = {}
    columns_in = [
        (
            step.key,
            stored_state[step.key],
            stored_due[step.key],
            step_due.get(step.key),
            late.get(step.key, no_counts),
            escalated.get(step.key, no_counts),
            people.get(step.key),
            totals[step.key],
        )
        for step in steps
    ]
    for unit, depth in ordered:
        if filters.late_only and unit.id not in late_per_unit:
            continue
        cells: list[dict[str, Any]] = []
        for key, states, dues, default_due, lates, escalations, step_people, step_totals in columns_in:
            stored = states.get(unit.id)
            n_late = lates.get(unit.id, 0)
            cell_state = _cell_state(stored, n_late, escalations.get(unit.id, 0))
            step_totals[cell_state] += 1
            counts = None
            if step_people is not None:
                if stored is None or stored == _NOT_STARTED:
                    done, total = 0, reports.get(unit.id, 0)
                else:
                    done, total = step_people.get(unit.id, (0, 0))
                counts = {"done": done, "total": total}
                people_totals[key][0] += done
                people_totals[key][1] += total
            stored_on = dues.get(unit.id)
            cells.append(
                {
                    "step_key": key,
                    "state": cell_state,
                    "due_on": default_due if stored_on is None else stored_on,
                    "counts": counts,
                    "late_tasks": n_late,
                }
            )
        unit_follow_ups = follow_ups.get(unit.id)
        follow_up_row = None
        if unit_follow_ups is not None:
            follow_up_row = {"done": unit_follow_ups.done, "open": unit_follow_ups.open}
            follow_up_total[0] += unit_follow_ups.done
            follow_up_total[1] += unit_follow_ups.open
        rows.append(
            {
                "id": unit.id,
                "code": unit.code,
                "name": unit.name,
                "parent_id": unit.parent_id,
                "depth": depth,
                "cells": cells,
                "follow_ups": follow_up_row,
            }
        )

    columns = [
        {
            "key": step.key,
            "number": step.number,
            "names": {"nb": step.name.nb, "en": step.name.en},
            "due_on": step_due.get(step.key, cycle.starts_on),
            "depends_on": sorted(definition.effective_dependencies(step.key)),
            "per_employee": step.key in per_employee,
            "units_by_state": totals[step.key],
            "people": {"done": people_totals[step.key][0], "total": people_totals[step.key][1]}
            if step.key in per_employee
            else None,
        }
        for step in steps
    ]
    return {
        "cycle": _cycle_info(cycle, definition),
        "today": today,
        "filters": filters,
        "steps": columns,
        "units": rows,
        "late": late_list,
        "late_total": sum(late_per_unit.values()),
        "failed_emails": failed_emails(session, cycle.id),
        "follow_ups": {"done": follow_up_total[0], "open": follow_up_total[1]},
    }


def _people_counts(
    session: Session, cycle_id: int, per_employee: dict[str, tuple[set[str], set[str]]]
) -> dict[str, dict[int, tuple[int, int]]]:
    """Per per-employee step, per unit whose step has tasks: (employees through the step, employees
    in it). Every employee gets one task of each first part when the step opens; an employee is
    through when the task of the step's last part is in. Cancelled tasks (people who left) do not
    count."""
    live: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    submitted: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    if not per_employee:
        return {}
    parts = {part for first, last in per_employee.values() for part in first | last}
    rows = session.connection().execute(
        select(
            HumanTask.unit_id,
            HumanTask.step_key,
            HumanTask.part_key,
            func.count(),
            func.sum(case((HumanTask.state == _SUBMITTED, 1), else_=0)),
        )
        .where(
            HumanTask.cycle_id == cycle_id,
            HumanTask.step_key.in_(per_employee),
            HumanTask.part_key.in_(parts),
            HumanTask.state.in_(_LIVE),
        )
        .group_by(HumanTask.unit_id, HumanTask.step_key, HumanTask.part_key)
    )
    for unit_id, step_key, part_key, count, n_submitted in rows.all():
        live[(step_key, part_key)][unit_id] = int(count)
        submitted[(step_key, part_key)][unit_id] = int(n_submitted or 0)
    counts: dict[str, dict[int, tuple[int, int]]] = {}
    for step_key, (first, last) in per_employee.items():
        units = {u for part in first | last for u in live.get((step_key, part), {})}
        counts[step_key] = {
            unit_id: (
                min(submitted.get((step_key, part), {}).get(unit_id, 0) for part in last),
                max(live.get((step_key, part), {}).get(unit_id, 0) for part in first),
            )
            for unit_id in units
        }
    return counts


def _cycle_info(cycle: Cycle, definition: CycleDefinition) -> CycleInfo:
    return CycleInfo(
        id=cycle.id,
        year=cycle.year,
        state=cycle.state,
        starts_on=cycle.starts_on,
        definition_key=definition.key,
        definition_version=definition.version,
    )


_NOT_STARTED, _DONE, _SKIPPED = UnitStepState.WAITING.value, UnitStepState.DONE.value, UnitStepState.SKIPPED.value
_CELL_NOT_STARTED, _CELL_OPEN, _CELL_DONE = CellState.NOT_STARTED.value, CellState.OPEN.value, CellState.DONE.value
_CELL_OVERDUE, _CELL_ESCALATED, _CELL_SKIPPED = (
    CellState.OVERDUE.value,
    CellState.ESCALATED.value,
    CellState.SKIPPED.value,
)


def _cell_state(stored: str | None, late: int, escalated: int) -> str:
    if stored is None or stored == _NOT_STARTED:
        return _CELL_NOT_STARTED
    if stored == _DONE:
        return _CELL_DONE
    if stored == _SKIPPED:
        return _CELL_SKIPPED
    if escalated:
        return _CELL_ESCALATED
    if late:
        return _CELL_OVERDUE
    return _CELL_OPEN


def _late_tasks(
    session: Session,
    cycle_id: int,
    today: dt.date,
    unit_ids: list[int],
    step_keys: set[str],
    unit_order: dict[int, int],
    unit_names: dict[int, str],
    definition: CycleDefinition,
) -> list[dict[str, Any]]:
    """The first ``LATE_LIST_LIMIT`` late tasks of the given units and steps, in tree order."""
    if not unit_ids:
        return []
    rows = list(
        session.connection()
        .execute(
            select(
                HumanTask.id,
                HumanTask.step_key,
                HumanTask.part_key,
                HumanTask.form_key,
                HumanTask.assignee_id,
                HumanTask.unit_id,
                HumanTask.due_on,
                HumanTask.escalation_level,
                Person.name,
            )
            .join(Person, Person.id == HumanTask.assignee_id)
            .where(
                HumanTask.cycle_id == cycle_id,
                HumanTask.state.in_(ACTIONABLE),
                HumanTask.due_on < today,
                HumanTask.step_key.in_(step_keys),
                HumanTask.unit_id.in_(unit_ids),
            )
        )
        .all()
    )
    steps = definition.active_steps
    step_number = {s.key: s.number for s in steps}
    after_steps = len(steps) + 1  #: follow-ups and evaluations come after the unit's steps
    part_order = {(s.key, p.key): i for s in steps for i, p in enumerate(s.parts)}
    # Tree order, then step, then part, then task: the list says where work is stuck, never who is worst.
    rows.sort(
        key=lambda r: (
            unit_order.get(r[5], 0),
            step_number.get(r[1], after_steps),
            part_order.get((r[1], r[2]), 0),
            r[0],
        )
    )
    names = _TaskNames(definition)
    return [
        {
            "task_id": r[0],
            "step_key": r[1],
            "part_key": r[2],
            "form_key": r[3],
            "task_name": names(r[1], r[2]),
            "person_id": r[4],
            "person_name": r[8],
            "unit_id": r[5],
            "unit_name": unit_names.get(r[5], ""),
            "due_on": r[6],
            "days_late": (today - r[6]).days,
            "escalation_rung": r[7],
        }
        for r in rows[:LATE_LIST_LIMIT]
    ]


class _TaskNames:
    """A task's name in both languages: "6. Goal and development talks – Preparation", or the name
    of a follow-up or a measure evaluation, which belong to no step."""

    def __init__(self, definition: CycleDefinition) -> None:
        self._steps = {s.key: s for s in definition.steps}
        self._known: dict[tuple[str, str], dict[str, str]] = {}

    def __call__(self, step_key: str, part_key: str) -> dict[str, str]:
        key = (step_key, part_key)
        if key not in self._known:
            self._known[key] = self._name(step_key, part_key)
        return self._known[key]

    def _name(self, step_key: str, part_key: str) -> dict[str, str]:
        if step_key == FOLLOW_UP_STEP_KEY:
            return {"nb": FOLLOW_UP_NAME.nb, "en": FOLLOW_UP_NAME.en}
        if step_key == EVALUATION_STEP_KEY:
            return {"nb": EVALUATION_NAME.nb, "en": EVALUATION_NAME.en}
        step = self._steps.get(step_key)
        if step is None:
            return {"nb": step_key, "en": step_key}
        names = {"nb": f"{step.number}. {step.name.nb}", "en": f"{step.number}. {step.name.en}"}
        part = next((p for p in step.parts if p.key == part_key), None)
        if len(step.parts) > 1 and part is not None:
            names = {"nb": f"{names['nb']} – {part.name.nb}", "en": f"{names['en']} – {part.name.en}"}
        return names


def failed_emails(session: Session, cycle_id: int) -> list[FailedEmail]:
    """Emails the provider refused for good, newest first: those about this cycle, and those about no
    cycle at all (a new link, say), which HR would otherwise see nowhere."""
    about_cycle = [n for n in failed_notifications(session) if not n.cycle_ids or cycle_id in n.cycle_ids]
    return [
        FailedEmail(
            notification_id=n.id,
            to_email=n.to_email,
            recipient_name=n.recipient_name,
            template=n.template,
            attempts=n.attempts,
            last_error=n.last_error,
            created_at=n.created_at,
        )
        for n in about_cycle[:FAILED_LIST_LIMIT]
    ]


# --- CSV ----------------------------------------------------------------------------------------


def status_csv(status: CycleStatus, language: str = "nb") -> str:
    """One row per unit: its place in the tree, then state and counts for each step, then its
    follow-ups (written and waiting)."""
    header = ["unit_id", "unit_code", "unit", "parent_id", "depth"]
    for step in status.steps:
        name = step.names.en if language == "en" else step.names.nb
        header += [f"{step.number}. {name}", f"{step.number}. done/total"]
    header += ["follow_ups_done", "follow_ups_open"]
    rows: list[list[Any]] = [header]
    for unit in status.units:
        row: list[Any] = [unit.id, unit.code, unit.name, unit.parent_id or "", unit.depth]
        for cell in unit.cells:
            row += [cell.state.value, f"{cell.counts.done}/{cell.counts.total}" if cell.counts else ""]
        row += [unit.follow_ups.done, unit.follow_ups.open] if unit.follow_ups else [0, 0]
        rows.append(row)
    return csv_text(rows)


# --- one unit -----------------------------------------------------------------------------------


class SubmittedForm(BaseModel):
    model_config = _Model
    task_id: int
    step_key: str
    part_key: str
    form_key: str
    task_name: LocalizedName
    submitted_at: dt.datetime | None
    submitted_by: str
    about_person: str | None = Field(default=None, description="For per-employee forms: whose talk or goals")
    private: bool = Field(description="True for per-employee forms: HR sees that it happened, not what was said")
    fields: list[FormField]


class OpenTask(BaseModel):
    model_config = _Model
    task_id: int
    step_key: str
    part_key: str
    form_key: str
    task_name: LocalizedName
    assignee_id: int
    assignee_name: str
    due_on: dt.date
    days_late: int
    escalation_rung: int
    state: str


class UnitStepDates(BaseModel):
    model_config = _Model
    step_key: str
    number: int
    names: LocalizedName
    state: CellState
    due_on: dt.date | None
    opened_at: dt.datetime | None
    done_at: dt.datetime | None


class UnitDetail(BaseModel):
    model_config = _Model
    cycle: CycleInfo
    unit_id: int
    unit_name: str
    leader_name: str | None
    steps: list[UnitStepDates]
    open_tasks: list[OpenTask]
    submitted: list[SubmittedForm]
    follow_ups: FollowUps = Field(default_factory=FollowUps, description="Follow-ups of the unit's talks")


def unit_detail(session: Session, cycle_id: int, unit_id: int, *, today: dt.date) -> UnitDetail:
    cycle, definition = load_cycle(session, cycle_id)
    unit = session.get(Unit, unit_id)
    if unit is None or unit.organisation_id != cycle.organisation_id:
        raise NotFound(f"unit {unit_id} does not exist")
    leader = session.get(Person, unit.leader_id) if unit.leader_id else None
    stored = {
        r.step_key: r
        for r in session.execute(
            select(UnitStep.step_key, UnitStep.state, UnitStep.due_on, UnitStep.opened_at, UnitStep.done_at).where(
                UnitStep.cycle_id == cycle.id, UnitStep.unit_id == unit.id
            )
        )
    }
    assignee = aliased(Person)
    subject = aliased(Person)
    tasks = session.execute(
        select(HumanTask, assignee.name, subject.name)
        .join(assignee, assignee.id == HumanTask.assignee_id)
        .outerjoin(subject, subject.id == HumanTask.subject_person_id)
        .where(HumanTask.cycle_id == cycle.id, HumanTask.unit_id == unit.id)
        .order_by(HumanTask.id)
    ).all()
    late: dict[str, int] = defaultdict(int)
    escalated: dict[str, int] = defaultdict(int)
    open_tasks: list[OpenTask] = []
    task_names = _TaskNames(definition)
    for task, assignee_name, _ in tasks:
        if task.state not in ACTIONABLE:
            continue
        days = (today - task.due_on).days
        late[task.step_key] += days > 0
        escalated[task.step_key] += task.escalation_level > 0
        open_tasks.append(
            OpenTask(
                task_id=task.id,
                step_key=task.step_key,
                part_key=task.part_key,
                form_key=task.form_key,
                task_name=LocalizedName.model_validate(task_names(task.step_key, task.part_key)),
                assignee_id=task.assignee_id,
                assignee_name=assignee_name,
                due_on=task.due_on,
                days_late=max(days, 0),
                escalation_rung=task.escalation_level,
                state=task.state,
            )
        )
    submitted_tasks = [(t, s) for t, _, s in tasks if t.state == TaskState.SUBMITTED.value]
    latest = _latest_submissions(session, [t.id for t, _ in submitted_tasks])
    submitters = sorted({s.submitted_by_id for s in latest.values()})
    names = {
        pid: name for pid, name in session.execute(select(Person.id, Person.name).where(Person.id.in_(submitters)))
    }
    # Per-employee forms stay private: HR sees that they happened, not what was said.
    answers = name_references(
        session,
        [
            []
            if task.subject_person_id is not None or task.id not in latest
            else flatten(latest[task.id].data, FORMS.get(task.form_key))
            for task, _ in submitted_tasks
        ],
    )
    submitted = []
    for (task, subject_name), fields in zip(submitted_tasks, answers, strict=True):
        submission = latest.get(task.id)
        private = task.subject_person_id is not None
        submitted.append(
            SubmittedForm(
                task_id=task.id,
                step_key=task.step_key,
                part_key=task.part_key,
                form_key=task.form_key,
                task_name=LocalizedName.model_validate(task_names(task.step_key, task.part_key)),
                submitted_at=task.submitted_at,
                submitted_by=names.get(submission.submitted_by_id, "") if submission else "",
                about_person=subject_name,
                private=private,
                fields=fields,
            )
        )
    steps = [
        UnitStepDates(
            step_key=step.key,
            number=step.number,
            names=LocalizedName(nb=step.name.nb, en=step.name.en),
            state=CellState(
                _cell_state(
                    stored[step.key].state if step.key in stored else None,
                    late[step.key],
                    escalated[step.key],
                )
            ),
            due_on=stored[step.key].due_on if step.key in stored else None,
            opened_at=stored[step.key].opened_at if step.key in stored else None,
            done_at=stored[step.key].done_at if step.key in stored else None,
        )
        for step in definition.active_steps
    ]
    counts = follow_up_counts(session, cycle.id).get(unit.id)
    return UnitDetail(
        cycle=_cycle_info(cycle, definition),
        unit_id=unit.id,
        unit_name=unit.name,
        leader_name=leader.name if leader else None,
        steps=steps,
        open_tasks=open_tasks,
        submitted=submitted,
        follow_ups=FollowUps(done=counts.done, open=counts.open) if counts else FollowUps(),
    )


def _latest_submissions(session: Session, task_ids: list[int]) -> dict[int, Submission]:
    if not task_ids:
        return {}
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .where(Submission.task_id.in_(task_ids), Submission.is_draft.is_(False))
        .group_by(Submission.task_id)
        .subquery()
    )
    rows = session.scalars(
        select(Submission).join(
            newest, and_(Submission.task_id == newest.c.task_id, Submission.version == newest.c.version)
        )
    )
    return {s.task_id: s for s in rows}


# --- the cycles ---------------------------------------------------------------------------------


class CycleSummary(BaseModel):
    model_config = _Model
    id: int
    year: int
    state: str
    starts_on: dt.date
    step_due: dict[str, dt.date]
    cloned_from_id: int | None
    created_at: dt.datetime
    created_by: str
    closed_at: dt.datetime | None


def list_cycles(session: Session) -> list[CycleSummary]:
    return [
        CycleSummary(
            id=c.id,
            year=c.year,
            state=c.state,
            starts_on=c.starts_on,
            step_due={k: dt.date.fromisoformat(v) for k, v in c.step_due.items()},
            cloned_from_id=c.cloned_from_id,
            created_at=c.created_at,
            created_by=c.created_by,
            closed_at=c.closed_at,
        )
        for c in session.scalars(select(Cycle).order_by(Cycle.year.desc(), Cycle.id.desc()))
    ]
