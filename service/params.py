"""Typed, bounded values that request parameters are parsed into, whether they come in a path, a
query, an HTML form or a JSON body: no value reaches a use case that the database cannot hold or that
could not be shown again.

- Ids are 1 to 2^63−1: a bigger number would overflow SQLite's integer and PostgreSQL's bigint.
- Dates and years are within 2000–2100, the span any cycle, deadline or plan can have.
- Text has no NUL and no lone surrogate (PostgreSQL refuses the first, no encoder takes the second)
  and is stripped, so a value of spaces is an empty one on both faces.
- Keys (a step's, a filter's) are short lower-case identifiers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator, Field, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError

from aarshjul.domain.storable import unstorable_text

MAX_ID = 2**63 - 1
FIRST_YEAR, LAST_YEAR = 2000, 2100
FIRST_DAY, LAST_DAY = dt.date(FIRST_YEAR, 1, 1), dt.date(LAST_YEAR, 12, 31)
DAY_RANGE = f"A date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


def _within_range(day: dt.date) -> dt.date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PydanticCustomError(
            "date_out_of_range",
            "give a date from {first} to {last}",
            {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
        )
    return day


def _storable(text: str) -> str:
    if unstorable_text(text):
        raise PydanticCustomError("text_unstorable", "the text holds characters that cannot be stored")
    return text


def _exact_bool(value: Any) -> Any:
    """A boolean as JSON Schema has it: ``true`` or ``false`` (in a query, those words), never 0, 1 or "yes"."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise PydanticCustomError("bool_type", "give true or false")


def _blank_is_none(value: Any) -> Any:
    """An empty query parameter (``?unit=``, as a form's empty choice sends it) means "not given"."""
    return None if isinstance(value, str) and not value.strip() else value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Year = Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR)]
Day = Annotated[dt.date, AfterValidator(_within_range), Field(description=DAY_RANGE)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
#: An audit action or a prefix of one ("cycle.", "task.reassign").
ActionPrefix = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z_.]*$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_storable)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=400), AfterValidator(_storable)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000), AfterValidator(_storable)]
#: A notice named in a redirect's query; one the page does not know is not shown.
NoticeKey = Annotated[str, StringConstraints(max_length=32)]


@dataclass(frozen=True)
class _BlankAllowed:
    """Says in the JSON Schema what ``_blank_is_none`` does: an empty value is taken (as not given)."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = dict(handler(core_schema))
        blank = {"type": "string", "maxLength": 0}
        if "anyOf" in schema:
            schema["anyOf"] = [*schema["anyOf"], blank]
            return schema
        return {"anyOf": [schema, blank]}


#: Optional query parameters: left empty, they are not given.
OptionalId = Annotated[Id | None, BeforeValidator(_blank_is_none), _BlankAllowed()]
OptionalYear = Annotated[Year | None, BeforeValidator(_blank_is_none), _BlankAllowed()]
OptionalKey = Annotated[Key | None, BeforeValidator(_blank_is_none), _BlankAllowed()]
OptionalNotice = Annotated[NoticeKey | None, BeforeValidator(_blank_is_none), _BlankAllowed()]
OptionalAction = Annotated[ActionPrefix | None, BeforeValidator(_blank_is_none), _BlankAllowed()]
Flag = Annotated[bool, BeforeValidator(lambda value: False if _blank_is_none(value) is None else value)]

#: A boolean in a JSON body or a query: only true or false.
StrictFlag = Annotated[bool, BeforeValidator(_exact_bool)]

#: An id in a path: /board/units/{unit_id}.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
