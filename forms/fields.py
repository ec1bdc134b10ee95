"""Field types shared by every form: text limits, references to earlier items, dates in the period.

A reference (a main goal, a unit goal, a critical need, a measure) is an id that must be one of the
ids valid for the task at hand. Those ids, the strategy period and today's date reach the
validators as the Pydantic validation context (``FormRules``), so the same model checks a browser
post and an API call, and the JSON Schema lists the same ids as an ``enum``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError

from aarshjul.domain.storable import unstorable_text

MAX_TEXT = 2000  #: characters in a free-text answer
MAX_TITLE = 300  #: characters in a title or a short answer
MAX_ITEMS = 50  #: rows in a list


class RefKind:
    """The kinds of earlier item a form may point at."""

    MAIN_GOAL = "main_goal"
    UNIT_GOAL = "unit_goal"
    CRITICAL_NEED = "critical_need"
    MEASURE = "measure"
    COMPETENCE_AREA = "competence_area"

    ALL = (MAIN_GOAL, UNIT_GOAL, CRITICAL_NEED, MEASURE, COMPETENCE_AREA)


@dataclass(frozen=True)
class FormRules:
    """What one task's input is checked against: the valid ids per kind, the period, today."""

    choices: Mapping[str, frozenset[int]]
    first_year: int
    last_year: int
    today: dt.date
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def period_start(self) -> dt.date:
        return dt.date(self.first_year, 1, 1)

    @property
    def period_end(self) -> dt.date:
        return dt.date(self.last_year, 12, 31)

    def date_range(self, not_before: str | None = None) -> tuple[dt.date, dt.date]:
        """The first and last date a date field takes: the period, from today on if ``not_before``
        is "today" (the field's ``x-not-before`` mark)."""
        first = max(self.period_start, self.today) if not_before == "today" else self.period_start
        return first, self.period_end


@dataclass(frozen=True)
class FormProblem:
    """One thing wrong with a submission: where (a path into the data), what kind, and details."""

    loc: tuple[str | int, ...]
    type: str
    ctx: Mapping[str, Any] = field(default_factory=dict)


class FormModel(BaseModel):
    """Base of every form and every row of a form: unknown fields are refused, never dropped."""

    model_config = ConfigDict(extra="forbid")

    def problems(self, rules: FormRules) -> list[FormProblem]:
        """Rules that look at several fields at once; each problem names the field to fix."""
        return []


def _rules(info: ValidationInfo) -> FormRules | None:
    context = info.context
    return context if isinstance(context, FormRules) else None


def _check_ref(kind: str) -> Callable[[int, ValidationInfo], int]:
    def check(value: int, info: ValidationInfo) -> int:
        rules = _rules(info)
        if rules is not None and value not in rules.choices.get(kind, frozenset()):
            raise PydanticCustomError("unknown_choice", "choose one of the listed options", {"kind": kind})
        return value

    return check


def _check_date(value: dt.date, info: ValidationInfo) -> dt.date:
    rules = _rules(info)
    if rules is not None and not rules.period_start <= value <= rules.period_end:
        raise PydanticCustomError(
            "outside_period",
            "give a date within the strategy period ({first} to {last})",
            {"first": rules.period_start.isoformat(), "last": rules.period_end.isoformat()},
        )
    return value


def _check_not_past(value: dt.date, info: ValidationInfo) -> dt.date:
    rules = _rules(info)
    if rules is not None and value < rules.today:
        raise PydanticCustomError("date_in_past", "give a date from today on", {"first": rules.today.isoformat()})
    return value


def _check_year(value: int, info: ValidationInfo) -> int:
    rules = _rules(info)
    if rules is not None and not rules.first_year <= value <= rules.last_year:
        raise PydanticCustomError(
            "year_outside_period",
            "give a year within the strategy period ({first}–{last})",
            {"first": rules.first_year, "last": rules.last_year},
        )
    return value


@dataclass(frozen=True)
class SchemaMark:
    """Adds ``key: value`` to a field's JSON Schema, where the layout and the enums are read from."""

    key: str
    value: str

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema[self.key] = self.value
        return schema


# An id of an earlier item of that kind that is valid for this task.
MainGoalRef = Annotated[int, SchemaMark("x-ref", RefKind.MAIN_GOAL), AfterValidator(_check_ref(RefKind.MAIN_GOAL))]
UnitGoalRef = Annotated[int, SchemaMark("x-ref", RefKind.UNIT_GOAL), AfterValidator(_check_ref(RefKind.UNIT_GOAL))]
NeedRef = Annotated[int, SchemaMark("x-ref", RefKind.CRITICAL_NEED), AfterValidator(_check_ref(RefKind.CRITICAL_NEED))]
MeasureRef = Annotated[int, SchemaMark("x-ref", RefKind.MEASURE), AfterValidator(_check_ref(RefKind.MEASURE))]
_AREA = RefKind.COMPETENCE_AREA
AreaRef = Annotated[int, SchemaMark("x-ref", _AREA), AfterValidator(_check_ref(_AREA))]


def _storable(text: str) -> str:
    """No NUL (PostgreSQL refuses it in text) and no lone surrogate (no encoder takes it): what is
    stored must be shown again."""
    if unstorable_text(text):
        raise PydanticCustomError("text_unstorable", "the text holds characters that cannot be stored")
    return text


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT), AfterValidator(_storable)
]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT), AfterValidator(_storable)]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE), AfterValidator(_storable)
]
OptionalTitle = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=MAX_TITLE), AfterValidator(_storable)
]
Level = Annotated[int, Field(ge=1, le=5)]
PeriodDate = Annotated[dt.date, SchemaMark("x-period", "date"), AfterValidator(_check_date)]
# A date in the period that has not passed yet (a follow-up date, say).
UpcomingDate = Annotated[PeriodDate, SchemaMark("x-not-before", "today"), AfterValidator(_check_not_past)]
PeriodYear = Annotated[int, SchemaMark("x-period", "year"), AfterValidator(_check_year)]
HIDDEN: dict[str, Any] = {"x-widget": "hidden"}


def duplicates(values: list[Any]) -> list[int]:
    """Positions of values already seen earlier in the list (None never counts)."""
    seen: set[Any] = set()
    found = []
    for index, value in enumerate(values):
        if value is None:
            continue
        if value in seen:
            found.append(index)
        seen.add(value)
    return found
