"""How a cycle moves on: which unit steps open, who gets which task, when a step is done.

Plain Python over small snapshots of the organisation and of the cycle's state; the use cases load
the snapshots with a few set-based queries and write the resulting plan in bulk. Each unit moves on
its own: a unit never waits for another unit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from aarshjul.clock import local_date
from aarshjul.domain.cycle_spec import CycleDefinition, PartSpec, StepSpec
from aarshjul.domain.enums import AssigneeRule, MeasureState, PartScope, Role, TaskState, UnitStepState
from aarshjul.domain.schedule import reminders_passed, task_due_date

FINISHED_STEP_STATES = frozenset({UnitStepState.DONE, UnitStepState.SKIPPED})
SETTLED_MEASURE_STATES = frozenset({MeasureState.APPROVED, MeasureState.EVALUATED})
#: Measures that left the unit's proposal for good: withdrawn by the leader, merged by HR.
CLOSED_MEASURE_STATES = frozenset({MeasureState.WITHDRAWN, MeasureState.MERGED})

EVALUATION_STEP_KEY = "evaluation"
EVALUATION_PART_KEY = "evaluate"


# --- the organisation -------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgUnit:
    id: int
    parent_id: int | None
    leader_id: int | None
    active: bool = True


@dataclass(frozen=True)
class OrgPerson:
    id: int
    unit_id: int
    role: Role
    active: bool = True
    deputy_id: int | None = None


class OrgChart:
    """The organisation tree as of one day, with the reporting lines the cycle needs."""

    def __init__(self, units: Iterable[OrgUnit], people: Iterable[OrgPerson]) -> None:
        self.units = {u.id: u for u in units}
        self.people = {p.id: p for p in people}
        self._children: dict[int, list[int]] = defaultdict(list)
        for unit in sorted(self.units.values(), key=lambda u: u.id):
            if unit.parent_id is not None and unit.active:
                self._children[unit.parent_id].append(unit.id)
        self._members: dict[int, list[int]] = defaultdict(list)
        for person in sorted(self.people.values(), key=lambda p: p.id):
            if person.active:
                self._members[person.unit_id].append(person.id)
        self._led: dict[int, int] = {}
        for unit in sorted(self.units.values(), key=lambda u: u.id, reverse=True):
            if unit.active and unit.leader_id is not None:
                self._led[unit.leader_id] = unit.id  # a person leading several units: the lowest id wins
        # Asked once per late task by the sweep: found once here, not by a walk over everyone each time.
        hr_ids = [p.id for p in self.people.values() if p.active and p.role is Role.HR]
        self._hr = min(hr_ids) if hr_ids else None

    def is_active(self, person_id: int | None) -> bool:
        person = self.people.get(person_id) if person_id is not None else None
        return person is not None and person.active

    @property
    def active_units(self) -> list[int]:
        return sorted(u.id for u in self.units.values() if u.active)

    def hr(self) -> int | None:
        """The organisation's HR contact: the active HR person with the lowest id."""
        return self._hr

    def leader_of(self, unit_id: int) -> int | None:
        """The unit's leader, if there is one and they are active."""
        unit = self.units.get(unit_id)
        if unit is None or not self.is_active(unit.leader_id):
            return None
        return unit.leader_id

    def acting_leader(self, unit_id: int | None) -> int | None:
        """Who acts for the unit: its leader, else the nearest leader above it, else HR."""
        seen: set[int] = set()
        while unit_id is not None and unit_id not in seen:
            seen.add(unit_id)
            leader = self.leader_of(unit_id)
            if leader is not None:
                return leader
            unit_id = self.units[unit_id].parent_id if unit_id in self.units else None
        return self.hr()

    def led_unit(self, person_id: int) -> int | None:
        return self._led.get(person_id)

    def direct_reports(self, unit_id: int) -> list[int]:
        """The people whose manager is this unit's leader: the unit's active members other than the
        leader, and the leaders of its child units (who work in their own units)."""
        leader = self.units[unit_id].leader_id if unit_id in self.units else None
        reports = [pid for pid in self._members.get(unit_id, []) if pid != leader]
        for child in self._children.get(unit_id, []):
            child_leader = self.leader_of(child)
            if child_leader is not None and child_leader != leader and child_leader not in reports:
                reports.append(child_leader)
        return sorted(reports)

    def manager_of(self, person_id: int) -> int | None:
        """The person a late task of this person escalates to.

        An employee's manager is their unit's leader; a unit leader's is the parent unit's leader;
        the top leader's (and anyone without a leader above) is HR.
        """
        led = self.led_unit(person_id)
        if led is not None:
            start = self.units[led].parent_id
        else:
            person = self.people.get(person_id)
            start = person.unit_id if person is not None else None
        manager = self.acting_leader(start) if start is not None else self.hr()
        if manager == person_id:
            # A leader filed under the unit they lead without being its leader of record.
            parent = self.units[start].parent_id if start is not None and start in self.units else None
            manager = self.acting_leader(parent) if parent is not None else self.hr()
        return manager

    def stand_in_for(self, person_id: int, excluded: frozenset[int] = frozenset()) -> int | None:
        """Who takes over a leaver's open tasks: their deputy, else their leader's deputy, else the
        leader above them, else HR; never someone who is leaving too."""

        def usable(candidate: int | None) -> bool:
            return (
                candidate is not None
                and candidate != person_id
                and candidate not in excluded
                and self.is_active(candidate)
            )

        person = self.people.get(person_id)
        candidates: list[int | None] = []
        if person is not None:
            candidates.append(person.deputy_id)
            unit = self.units.get(person.unit_id)
            unit_leader = unit.leader_id if unit is not None else None
            if unit_leader is not None and unit_leader in self.people:
                candidates.append(self.people[unit_leader].deputy_id)
            candidates.append(unit_leader)
            cursor = unit.parent_id if unit is not None else None
            seen: set[int] = set()
            while cursor is not None and cursor not in seen and cursor in self.units:
                seen.add(cursor)
                candidates.append(self.units[cursor].leader_id)
                cursor = self.units[cursor].parent_id
        candidates.append(self.hr())
        for candidate in candidates:
            if usable(candidate):
                return candidate
        return None


# --- the cycle's state ------------------------------------------------------------------------


def task_natural_key(
    cycle_id: int,
    unit_id: int,
    step_key: str,
    part_key: str,
    subject_id: int | None = None,
    measure_id: int | None = None,
    revision: int | None = None,
) -> str:
    """The identity of a task: the same task can never be created twice (a unique column)."""
    key = f"c{cycle_id}:u{unit_id}:{step_key}:{part_key}"
    if subject_id is not None:
        key += f":p{subject_id}"
    if measure_id is not None:
        key += f":m{measure_id}:r{revision or 1}"
    return key


def evaluation_natural_key(measure_id: int, year: int) -> str:
    """A measure is evaluated once for each year it runs."""
    return f"evaluation:m{measure_id}:y{year}"


@dataclass(frozen=True)
class TaskPlace:
    """Where a step task belongs, read back from its natural key."""

    cycle_id: int
    unit_id: int
    step_key: str
    part_key: str


def task_place(natural_key: str) -> TaskPlace | None:
    """The cycle, unit, step and part of a step task's key (``task_natural_key``); None for other keys."""
    fields = natural_key.split(":")
    if len(fields) < 4 or not fields[0].startswith("c") or not fields[1].startswith("u"):
        return None
    cycle, unit = fields[0][1:], fields[1][1:]
    if not (cycle.isdigit() and unit.isdigit()):
        return None
    return TaskPlace(int(cycle), int(unit), fields[2], fields[3])


@dataclass(frozen=True)
class TaskFact:
    id: int
    natural_key: str
    unit_id: int
    step_key: str
    part_key: str
    state: TaskState
    subject_id: int | None = None
    measure_id: int | None = None


@dataclass(frozen=True)
class MeasureFact:
    id: int
    unit_id: int
    state: MeasureState
    revision: int


@dataclass(frozen=True)
class StepFact:
    state: UnitStepState
    due_on: dt.date


@dataclass(frozen=True)
class PlannedTask:
    natural_key: str
    unit_id: int
    step_key: str
    part_key: str
    form_key: str
    assignee_id: int
    due_on: dt.date
    reminders_sent: int
    subject_id: int | None = None
    measure_id: int | None = None


@dataclass(frozen=True)
class StepChange:
    unit_id: int
    step_key: str
    state: UnitStepState
    due_on: dt.date
    is_new: bool  #: no row yet for this unit and step


@dataclass
class AdvancePlan:
    step_changes: list[StepChange] = field(default_factory=list)
    new_tasks: list[PlannedTask] = field(default_factory=list)
    cancel_task_ids: list[int] = field(default_factory=list)
    unassignable: list[str] = field(default_factory=list)  #: natural keys nobody could be given

    @property
    def opened(self) -> list[StepChange]:
        return [c for c in self.step_changes if c.state is UnitStepState.OPEN]


def step_order(definition: CycleDefinition) -> list[StepSpec]:
    """Enabled steps with every step after the steps it waits for."""
    ordered: list[StepSpec] = []
    placed: set[str] = set()
    remaining = list(definition.active_steps)
    while remaining:
        for step in remaining:
            if definition.effective_dependencies(step.key) <= placed:
                ordered.append(step)
                placed.add(step.key)
                remaining.remove(step)
                break
    return ordered


def steps_ready(definition: CycleDefinition, states: Mapping[str, UnitStepState]) -> list[str]:
    """Steps of one unit that are waiting and whose inputs (in this unit) are all finished."""
    return [
        step.key
        for step in step_order(definition)
        if states.get(step.key, UnitStepState.WAITING) is UnitStepState.WAITING
        and all(states.get(dep) in FINISHED_STEP_STATES for dep in definition.effective_dependencies(step.key))
    ]


class CyclePlanner:
    """Reconciles one cycle: given what exists, what should change. Running it on its own output
    plans nothing, which is what makes the advance idempotent."""

    def __init__(
        self,
        definition: CycleDefinition,
        cycle_id: int,
        step_due: Mapping[str, dt.date],
        org: OrgChart,
        now: dt.datetime,
        zone: ZoneInfo,
    ) -> None:
        self.definition = definition
        self.cycle_id = cycle_id
        self.step_due = step_due
        self.org = org
        self.now = now
        self.zone = zone
        self.today = local_date(now, zone)
        self._order = step_order(definition)
        self._passed: dict[tuple[dt.date, tuple[int, ...]], int] = {}

    def plan(
        self,
        steps: Mapping[tuple[int, str], StepFact],
        tasks: Iterable[TaskFact],
        measures: Iterable[MeasureFact],
        units: Iterable[int] | None = None,
    ) -> AdvancePlan:
        """What should change. ``units`` limits the plan to those units (a unit's plan reads only its
        own steps, tasks and measures, so the facts given need cover only them); default: every
        active unit."""
        by_key = {t.natural_key: t for t in tasks}
        by_unit_step: dict[tuple[int, str], list[TaskFact]] = defaultdict(list)
        for task in by_key.values():
            by_unit_step[(task.unit_id, task.step_key)].append(task)
        unit_measures: dict[int, list[MeasureFact]] = defaultdict(list)
        for measure in measures:
            unit_measures[measure.unit_id].append(measure)
        plan = AdvancePlan()
        active = self.org.active_units
        if units is not None:
            wanted = set(units)
            active = [u for u in active if u in wanted]
        for unit_id in active:
            self._plan_unit(unit_id, steps, by_key, by_unit_step, unit_measures.get(unit_id, []), plan)
        return plan

    def _plan_unit(
        self,
        unit_id: int,
        steps: Mapping[tuple[int, str], StepFact],
        by_key: Mapping[str, TaskFact],
        by_unit_step: Mapping[tuple[int, str], list[TaskFact]],
        measures: list[MeasureFact],
        plan: AdvancePlan,
    ) -> None:
        states: dict[str, UnitStepState] = {}
        for step in self._order:
            fact = steps.get((unit_id, step.key))
            due_on = fact.due_on if fact is not None else self.step_due[step.key]
            state = fact.state if fact is not None else UnitStepState.WAITING
            new_state = state
            inputs_done = all(
                states.get(dep) in FINISHED_STEP_STATES for dep in self.definition.effective_dependencies(step.key)
            )
            if state is UnitStepState.WAITING and inputs_done:
                if step.per_employee and not self.org.direct_reports(unit_id):
                    new_state = UnitStepState.SKIPPED
                else:
                    new_state = UnitStepState.OPEN
            if new_state is UnitStepState.OPEN:
                complete = self._reconcile_step(unit_id, step, due_on, by_key, by_unit_step, measures, plan)
                if complete:
                    new_state = UnitStepState.DONE
            if fact is None or new_state is not state:
                plan.step_changes.append(StepChange(unit_id, step.key, new_state, due_on, is_new=fact is None))
            states[step.key] = new_state

    def _reconcile_step(
        self,
        unit_id: int,
        step: StepSpec,
        due_on: dt.date,
        by_key: Mapping[str, TaskFact],
        by_unit_step: Mapping[tuple[int, str], list[TaskFact]],
        measures: list[MeasureFact],
        plan: AdvancePlan,
    ) -> bool:
        """Plan the tasks an open step is missing; True when everything it needs is submitted."""
        complete = True
        subjects = self.org.direct_reports(unit_id)
        for part in step.parts:
            if part.scope is PartScope.MEASURE:
                complete &= self._reconcile_measure_part(unit_id, step, part, due_on, by_unit_step, measures, plan)
                continue
            instances: list[int | None] = list(subjects) if part.scope is PartScope.EMPLOYEE else [None]
            for subject in instances:
                key = task_natural_key(self.cycle_id, unit_id, step.key, part.key, subject)
                existing = by_key.get(key)
                if existing is not None:
                    complete &= existing.state is TaskState.SUBMITTED
                    continue
                complete = False
                if part.after is not None:
                    before = step.part(part.after)
                    before_subject = subject if before.scope is PartScope.EMPLOYEE else None
                    previous = by_key.get(
                        task_natural_key(self.cycle_id, unit_id, step.key, before.key, before_subject)
                    )
                    if previous is None or previous.state is not TaskState.SUBMITTED:
                        continue
                self._add_task(unit_id, step, part, due_on, key, subject, None, plan)
        return complete

    def _reconcile_measure_part(
        self,
        unit_id: int,
        step: StepSpec,
        part: PartSpec,
        due_on: dt.date,
        by_unit_step: Mapping[tuple[int, str], list[TaskFact]],
        measures: list[MeasureFact],
        plan: AdvancePlan,
    ) -> bool:
        expected: set[str] = set()
        for measure in sorted(measures, key=lambda m: m.id):
            if measure.state is MeasureState.PROPOSED:
                key = task_natural_key(
                    self.cycle_id, unit_id, step.key, part.key, measure_id=measure.id, revision=measure.revision
                )
                expected.add(key)
                if not any(t.natural_key == key for t in by_unit_step.get((unit_id, step.key), [])):
                    self._add_task(unit_id, step, part, due_on, key, None, measure.id, plan)
        # An approval asked for an earlier revision, or for a measure since withdrawn, is void.
        for task in by_unit_step.get((unit_id, step.key), []):
            if task.part_key == part.key and task.state.is_actionable and task.natural_key not in expected:
                plan.cancel_task_ids.append(task.id)
        # A measure merged into an organisation-wide one needs no decision of its own any more.
        return all(m.state in SETTLED_MEASURE_STATES or m.state in CLOSED_MEASURE_STATES for m in measures)

    def _add_task(
        self,
        unit_id: int,
        step: StepSpec,
        part: PartSpec,
        step_due: dt.date,
        key: str,
        subject: int | None,
        measure_id: int | None,
        plan: AdvancePlan,
    ) -> None:
        assignee = self.assignee(unit_id, part.assignee, subject)
        if assignee is None:
            plan.unassignable.append(key)
            return
        due = task_due_date(step_due, part.due_offset_days, self.today, step.min_days_to_respond)
        plan.new_tasks.append(
            PlannedTask(
                natural_key=key,
                unit_id=unit_id,
                step_key=step.key,
                part_key=part.key,
                form_key=part.form,
                assignee_id=assignee,
                due_on=due,
                reminders_sent=self._reminders_passed(due, step.reminders_days_before),
                subject_id=subject,
                measure_id=measure_id,
            )
        )

    def _reminders_passed(self, due: dt.date, ladder: tuple[int, ...]) -> int:
        # The tasks a step opens share a handful of due dates; the time-zone arithmetic is done once each.
        key = (due, ladder)
        if key not in self._passed:
            self._passed[key] = reminders_passed(due, ladder, self.now, self.zone)
        return self._passed[key]

    def assignee(self, unit_id: int, rule: AssigneeRule, subject: int | None) -> int | None:
        if rule is AssigneeRule.EACH_EMPLOYEE:
            return subject
        if rule is AssigneeRule.HR:
            return self.org.hr()
        # UNIT_LEADER and LEADER_PER_EMPLOYEE: the unit's leader, or whoever acts for the unit.
        return self.org.acting_leader(unit_id)
