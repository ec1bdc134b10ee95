"""The status board's document (``CycleStatus``): one model for the board page, the JSON API, its CSV
and ``aarshjul cycle status --json``. Stable: fields are only ever added."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aarshjul.domain.enums import Language
from aarshjul.usecases.shared.spreadsheets import csv_text


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
    nn: str = Field(default="", description="Nynorsk (bokmål where the cycle definition gives no nynorsk)")

    def get(self, language: str) -> str:
        if language == Language.EN:
            return self.en
        if language == Language.NN and self.nn:
            return self.nn
        return self.nb


def localized(name: Callable[[Language], str]) -> dict[str, str]:
    """A name in every language, as LocalizedName's fields: ``LocalizedName(**localized(text.get))``.
    In the fields' order: the board builds its documents unvalidated, and they keep the order given."""
    return {field: name(Language(field)) for field in LocalizedName.model_fields}


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
    """A message HR should know did not arrive: an email, or an SMS (``channel``, ``to_phone``)."""

    model_config = _Model
    notification_id: int
    to_email: str
    channel: str = Field(default="email", description='"email" or "sms"')
    to_phone: str | None = Field(default=None, description="the number an SMS went to")
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
            name = step.names.get(language)
            lines.append(f"  {step.number}. {name} (due {step.due_on.isoformat()}): {states}{people}")
        lines.append(f"Late tasks: {self.late_total}; failed emails: {len(self.failed_emails)}")
        return "\n".join(lines)


def status_csv(status: CycleStatus, language: str = "nb") -> str:
    """One row per unit: its place in the tree, then state and counts for each step, then its
    follow-ups (written and waiting)."""
    header = ["unit_id", "unit_code", "unit", "parent_id", "depth"]
    for step in status.steps:
        name = step.names.get(language)
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
