"""The yearly cycle as data: frozen specs loaded from a versioned definition file.

A running cycle stores the definition (key, version and full content) it started with, so editing
the file never changes a cycle already under way. Only pydantic is used here; no storage or web code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from aarshjul.domain.enums import AssigneeRule, Language, PartScope
from aarshjul.domain.errors import CycleDefinitionError

DEFAULT_DEFINITION_PATH = Path(__file__).resolve().parent.parent / "cycle_definitions" / "standard.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalizedText(_Frozen):
    """A name in bokmål and English, and in nynorsk where the definition gives one: an organisation's
    own file (or a definition stored before nynorsk existed) may have none, and nynorsk readers then
    read bokmål."""

    nb: str = Field(min_length=1)
    en: str = Field(min_length=1)
    nn: str | None = Field(default=None, min_length=1)

    def get(self, language: str) -> str:
        if language == Language.EN:
            return self.en
        if language == Language.NN and self.nn is not None:
            return self.nn
        return self.nb

    @model_serializer(mode="wrap")
    def _without_missing_nynorsk(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A name without nynorsk is written as it was before nynorsk existed, so the content hash of a
        # definition that gives none (and of every definition already stored) stays what it was.
        data: dict[str, Any] = handler(self)
        if data.get("nn") is None:
            data.pop("nn", None)
        return data


class Deadline(_Frozen):
    """A step's deadline: a fixed date, or a number of days after the cycle starts."""

    offset_days: int | None = Field(default=None, ge=0, le=366)
    date: dt.date | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Deadline:
        if (self.offset_days is None) == (self.date is None):
            raise ValueError("give either offset_days or date")
        return self

    def resolve(self, starts_on: dt.date) -> dt.date:
        if self.date is not None:
            return self.date
        assert self.offset_days is not None  # guaranteed by the validator above
        return starts_on + dt.timedelta(days=self.offset_days)


class EscalationRung(_Frozen):
    after_days: int = Field(ge=1, le=180)
    to: Literal["manager", "hr"]


class PartSpec(_Frozen):
    """One kind of task within a step (the talk has three: prepare, record, confirm)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: LocalizedText
    form: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    assignee: AssigneeRule
    scope: PartScope = PartScope.UNIT
    after: str | None = None  #: the part (same step) whose task must be submitted first
    due_offset_days: int = Field(default=0, ge=-60, le=0)  #: relative to the step's deadline


class StepSpec(_Frozen):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    number: int = Field(ge=1, le=99)
    name: LocalizedText
    enabled: bool = True
    depends_on: tuple[str, ...] = ()
    deadline: Deadline
    parts: tuple[PartSpec, ...] = Field(min_length=1)
    reminders_days_before: tuple[int, ...] = (7, 1)
    escalation: tuple[EscalationRung, ...] = (
        EscalationRung(after_days=3, to="manager"),
        EscalationRung(after_days=10, to="hr"),
    )
    min_days_to_respond: int = Field(default=7, ge=1, le=60)

    @model_validator(mode="after")
    def _parts_consistent(self) -> StepSpec:
        keys = [p.key for p in self.parts]
        if len(set(keys)) != len(keys):
            raise ValueError(f"step {self.key}: duplicate part keys")
        for part in self.parts:
            if part.after is not None and part.after not in keys:
                raise ValueError(f"step {self.key}: part {part.key} comes after unknown part {part.after}")
        if any(d <= 0 for d in self.reminders_days_before):
            raise ValueError(f"step {self.key}: reminders must be a positive number of days before")
        rungs = [r.after_days for r in self.escalation]
        if rungs != sorted(set(rungs)):
            raise ValueError(f"step {self.key}: escalation rungs must come in rising order of days")
        return self

    @property
    def per_employee(self) -> bool:
        return any(p.scope is PartScope.EMPLOYEE for p in self.parts)

    def part(self, key: str) -> PartSpec:
        for part in self.parts:
            if part.key == key:
                return part
        raise KeyError(key)

    def first_parts(self) -> tuple[PartSpec, ...]:
        """Parts that open with the step (not after another part, not per measure)."""
        return tuple(p for p in self.parts if p.after is None and p.scope is not PartScope.MEASURE)

    def parts_after(self, key: str) -> tuple[PartSpec, ...]:
        return tuple(p for p in self.parts if p.after == key)


class CycleDefinition(_Frozen):
    key: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: int = Field(ge=1)
    name: LocalizedText
    steps: tuple[StepSpec, ...] = Field(min_length=1)
    evaluation_form: str = "measure_evaluation"
    evaluation_days_to_respond: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _graph_is_sound(self) -> CycleDefinition:
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate step keys")
        by_key = {s.key: s for s in self.steps}
        for step in self.steps:
            for dep in step.depends_on:
                if dep not in by_key:
                    raise ValueError(f"step {step.key} depends on unknown step {dep}")
        # A cycle in the graph would leave every step in it waiting for ever.
        visiting: set[str] = set()
        done: set[str] = set()

        def visit(key: str, path: tuple[str, ...]) -> None:
            if key in done:
                return
            if key in visiting:
                raise ValueError("steps depend on each other in a loop: " + " -> ".join((*path, key)))
            visiting.add(key)
            for dep in by_key[key].depends_on:
                visit(dep, (*path, key))
            visiting.discard(key)
            done.add(key)

        for key in keys:
            visit(key, ())
        if not any(s.enabled for s in self.steps):
            raise ValueError("at least one step must be enabled")
        return self

    @property
    def active_steps(self) -> tuple[StepSpec, ...]:
        return tuple(s for s in self.steps if s.enabled)

    def step(self, key: str) -> StepSpec:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    def effective_dependencies(self, key: str) -> frozenset[str]:
        """The enabled steps a step waits for; a disabled step is bridged to its own inputs."""
        result: set[str] = set()
        stack = list(self.step(key).depends_on)
        seen: set[str] = set()
        while stack:
            dep = stack.pop()
            if dep in seen:
                continue
            seen.add(dep)
            spec = self.step(dep)
            if spec.enabled:
                result.add(dep)
            else:
                stack.extend(spec.depends_on)
        return frozenset(result)

    def due_dates(self, starts_on: dt.date) -> dict[str, dt.date]:
        return {s.key: s.deadline.resolve(starts_on) for s in self.active_steps}

    def shifted_one_year(self) -> CycleDefinition:
        """The same definition with every fixed date moved one year on ("clone last year")."""
        data = self.model_dump(mode="python")
        for step in data["steps"]:
            fixed = step["deadline"].get("date")
            if fixed is not None:
                step["deadline"]["date"] = _add_year(fixed)
        return CycleDefinition.model_validate(data)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _add_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def parse_definition(data: Mapping[str, Any], source: str = "<data>") -> CycleDefinition:
    try:
        return CycleDefinition.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'definition'}: {err['msg']}" for err in exc.errors()
        )
        raise CycleDefinitionError(f"{source}: {problems}") from exc


def load_definition(path: Path | None = None) -> CycleDefinition:
    path = path or DEFAULT_DEFINITION_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CycleDefinitionError(f"{path}: cannot read the cycle definition: {exc}") from exc
    if not isinstance(raw, dict):
        raise CycleDefinitionError(f"{path}: the cycle definition must be a mapping")
    return parse_definition(raw, str(path))
