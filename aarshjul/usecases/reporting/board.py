"""The status board: where every unit stands on every step of one cycle.

Built from a handful of set-based queries (units, unit steps, task counts grouped in SQL, late tasks,
failed emails) whatever the size of the organisation.

The board shows units and the process. The late list names people next to their late tasks because
someone has to act on them; it is ordered by the organisation tree and the step, never by how late a
person is, and nothing here scores or ranks individuals."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    HumanTask,
    Person,
    Unit,
    UnitStep,
)
from aarshjul.domain.cycle_spec import CycleDefinition, StepSpec
from aarshjul.domain.enums import ACTIONABLE_TASK_STATES, Language, PartScope, TaskState, UnitStepState
from aarshjul.domain.errors import InvalidInput
from aarshjul.domain.followups import (
    EVALUATION_NAME,
    FEEDBACK_NAME,
    FEEDBACK_STEP_KEY,
    FOLLOW_UP_NAME,
    FOLLOW_UP_STEP_KEY,
    LIVES_ON_STEP_KEYS,
)
from aarshjul.domain.progression import EVALUATION_STEP_KEY
from aarshjul.usecases.reporting.board_model import (
    BoardFilters,
    CellState,
    Counts,
    CycleStatus,
    FailedEmail,
    FollowUps,
    LateTask,
    LocalizedName,
    StepColumn,
    UnitCell,
    UnitRow,
    localized,
)
from aarshjul.usecases.reporting.cycles import _cycle_info, load_cycle
from aarshjul.usecases.reporting.failed_notifications import failed_notifications
from aarshjul.usecases.reporting.followups import follow_up_counts
from aarshjul.usecases.reporting.unit_tree import _UnitInfo, _units, subtree, tree_order
from aarshjul.usecases.shared.documents import unvalidated

#: The board's parts, built without validating again what the database typed (see ``unvalidated``).
_cell, _counts, _row = unvalidated(UnitCell), unvalidated(Counts), unvalidated(UnitRow)
_column, _names, _late_task = unvalidated(StepColumn), unvalidated(LocalizedName), unvalidated(LateTask)
_follow_ups, _status = unvalidated(FollowUps), unvalidated(CycleStatus)

_LIVE = (TaskState.OPEN, TaskState.SUBMITTED, TaskState.RETURNED)


_SUBMITTED = TaskState.SUBMITTED

LATE_LIST_LIMIT = 500  #: the page and the JSON list at most this many late tasks; ``late_total`` has them all
FAILED_LIST_LIMIT = 200  #: the newest this many undeliverable emails


def _first_and_last_parts(step: StepSpec) -> tuple[set[str], set[str]]:
    employee_parts = [p for p in step.parts if p.scope is PartScope.EMPLOYEE]
    followed = {p.after for p in employee_parts if p.after}
    first = {p.key for p in employee_parts if p.after is None}
    last = {p.key for p in employee_parts if p.key not in followed}
    return first, last


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
    """The board of a cycle as of ``today`` (the organisation's local date).

    The models in board_model.py are the one definition of the document, and it is built from them
    directly; its values come from the database's typed columns and this module, so it is not
    validated again (thousands of cells for 10,000 people; ``bench/board.py``).
    ``tests/integration/test_board.py`` checks that the document validates against its models."""
    return _status_document(session, cycle_id, filters or BoardFilters(), today)


def cycle_status_json(session: Session, cycle_id: int, filters: BoardFilters | None = None, *, today: dt.date) -> bytes:
    """The board as JSON, as the API answers with it."""
    status = cycle_status(session, cycle_id, filters, today=today)
    return CycleStatus.__pydantic_serializer__.to_json(status)  # what model_dump_json gives, as bytes


def _status_document(session: Session, cycle_id: int, filters: BoardFilters, today: dt.date) -> CycleStatus:
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
        .where(HumanTask.cycle_id == cycle.id, HumanTask.state.in_(ACTIONABLE_TASK_STATES), or_(is_late, is_escalated))
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

    rows: list[UnitRow] = []
    totals: dict[str, dict[CellState, int]] = {s.key: dict.fromkeys(CellState, 0) for s in steps}
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
        cells: list[UnitCell] = []
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
                counts = _counts(done=done, total=total)
                people_totals[key][0] += done
                people_totals[key][1] += total
            stored_on = dues.get(unit.id)
            cells.append(
                _cell(
                    step_key=key,
                    state=cell_state,
                    due_on=default_due if stored_on is None else stored_on,
                    counts=counts,
                    late_tasks=n_late,
                )
            )
        unit_follow_ups = follow_ups.get(unit.id)
        follow_up_row = None
        if unit_follow_ups is not None:
            follow_up_row = _follow_ups(done=unit_follow_ups.done, open=unit_follow_ups.open)
            follow_up_total[0] += unit_follow_ups.done
            follow_up_total[1] += unit_follow_ups.open
        rows.append(
            _row(
                id=unit.id,
                code=unit.code,
                name=unit.name,
                parent_id=unit.parent_id,
                depth=depth,
                cells=cells,
                follow_ups=follow_up_row,
            )
        )

    columns = [
        _column(
            key=step.key,
            number=step.number,
            names=_names(**localized(step.name.get)),
            due_on=step_due.get(step.key, cycle.starts_on),
            depends_on=sorted(definition.effective_dependencies(step.key)),
            per_employee=step.key in per_employee,
            units_by_state=totals[step.key],
            people=_counts(done=people_totals[step.key][0], total=people_totals[step.key][1])
            if step.key in per_employee
            else None,
        )
        for step in steps
    ]
    return _status(
        cycle=_cycle_info(cycle, definition),
        today=today,
        filters=filters,
        steps=columns,
        units=rows,
        late=late_list,
        late_total=sum(late_per_unit.values()),
        failed_emails=failed_emails(session, cycle.id),
        follow_ups=_follow_ups(done=follow_up_total[0], open=follow_up_total[1]),
    )


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


_NOT_STARTED, _DONE, _SKIPPED = UnitStepState.WAITING, UnitStepState.DONE, UnitStepState.SKIPPED


_CELL_NOT_STARTED, _CELL_OPEN, _CELL_DONE = CellState.NOT_STARTED, CellState.OPEN, CellState.DONE


_CELL_OVERDUE, _CELL_ESCALATED, _CELL_SKIPPED = (
    CellState.OVERDUE,
    CellState.ESCALATED,
    CellState.SKIPPED,
)


def _cell_state(stored: str | None, late: int, escalated: int) -> CellState:
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
) -> list[LateTask]:
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
                HumanTask.state.in_(ACTIONABLE_TASK_STATES),
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
        _late_task(
            task_id=r[0],
            step_key=r[1],
            part_key=r[2],
            form_key=r[3],
            task_name=names(r[1], r[2]),
            person_id=r[4],
            person_name=r[8],
            unit_id=r[5],
            unit_name=unit_names.get(r[5], ""),
            due_on=r[6],
            days_late=(today - r[6]).days,
            escalation_rung=r[7],
        )
        for r in rows[:LATE_LIST_LIMIT]
    ]


class _TaskNames:
    """A task's name in both languages: "6. Goal and development talks – Preparation", or the name
    of a follow-up or a measure evaluation, which belong to no step."""

    def __init__(self, definition: CycleDefinition) -> None:
        self._steps = {s.key: s for s in definition.steps}
        self._known: dict[tuple[str, str], LocalizedName] = {}

    def __call__(self, step_key: str, part_key: str) -> LocalizedName:
        key = (step_key, part_key)
        if key not in self._known:
            self._known[key] = self._name(step_key, part_key)
        return self._known[key]

    def _name(self, step_key: str, part_key: str) -> LocalizedName:
        if step_key == FOLLOW_UP_STEP_KEY:
            return LocalizedName(**localized(FOLLOW_UP_NAME.get))
        if step_key == EVALUATION_STEP_KEY:
            return LocalizedName(**localized(EVALUATION_NAME.get))
        if step_key == FEEDBACK_STEP_KEY:
            return LocalizedName(**localized(FEEDBACK_NAME.get))
        step = self._steps.get(step_key)
        if step is None:
            return LocalizedName(**localized(lambda _language: step_key))
        part = next((p for p in step.parts if p.key == part_key), None)
        named_part = part if len(step.parts) > 1 else None

        def name(language: Language) -> str:
            text = f"{step.number}. {step.name.get(language)}"
            return text if named_part is None else f"{text} – {named_part.name.get(language)}"

        return LocalizedName(**localized(name))


def failed_emails(session: Session, cycle_id: int) -> list[FailedEmail]:
    """Emails the provider refused for good, newest first: those about this cycle, and those about no
    cycle at all (a new link, say), which HR would otherwise see nowhere."""
    about_cycle = [n for n in failed_notifications(session) if not n.cycle_ids or cycle_id in n.cycle_ids]
    return [
        FailedEmail(
            notification_id=n.id,
            to_email=n.to_email,
            channel=n.channel,
            to_phone=n.to_phone,
            recipient_name=n.recipient_name,
            template=n.template,
            attempts=n.attempts,
            last_error=n.last_error,
            created_at=n.created_at,
        )
        for n in about_cycle[:FAILED_LIST_LIMIT]
    ]
