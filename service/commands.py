"""HR's commands: one Pydantic model per thing HR asks for, with two faces.

The JSON API takes the model as the request body; HR's HTML form of the same command is parsed into
the same model by ``service.html_forms``, so both faces accept and refuse the same input. What only
the HTML face needs lives in class variables: a field's name in the form where it differs
(``html_names``), the prefix of a mapping's names (``html_prefixes``), and what the form says beside
a field it refuses (``field_messages``, English message ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from aarshjul.presentation.i18n import DEFAULT_LANGUAGE
from service.params import Comment, Day, Email, Id, Key, Name, StrictFlag, Year


class Command(BaseModel):
    """Unknown fields are refused, never dropped."""

    model_config = ConfigDict(extra="forbid")

    html_names: ClassVar[Mapping[str, str]] = {}
    html_prefixes: ClassVar[Mapping[str, str]] = {}
    field_messages: ClassVar[Mapping[str, str]] = {}


class StartCycle(Command):
    year: Year = Field(examples=[2027])
    starts_on: Day | None = Field(default=None, description="Default: today", examples=["2027-01-04"])
    step_due: dict[Key, Day] | None = Field(
        default=None, max_length=100, description="Deadlines by step key; default from the cycle definition"
    )

    html_prefixes = {"step_due": "due_"}


class CloneLastYear(Command):
    starts_on: Day | None = Field(default=None, description="Default: last year's start, one year on")


class CloseCycle(Command):
    force: StrictFlag = Field(default=False, description="Close although units are unfinished; stops open tasks")


class ExtendDeadline(Command):
    new_due: Day
    task_ids: list[Id] | None = Field(default=None, max_length=5000)
    unit_id: Id | None = None
    step_key: Key | None = None

    html_names = {"task_ids": "task_id"}

    @model_validator(mode="after")
    def _something_named(self) -> ExtendDeadline:
        if not self.task_ids and self.step_key is None:
            raise PydanticCustomError(
                "tasks_or_step", "name task_ids, or a step_key (with or without unit_id)", {"field": "step_key"}
            )
        return self


class Reassign(Command):
    task_ids: list[Id] = Field(min_length=1, max_length=5000)
    assignee_email: Email | None = None
    assignee_id: Id | None = None

    html_names = {"task_ids": "task_id"}
    field_messages = {
        "task_ids": "Choose at least one task.",
        "assignee_email": "Write the email address of the person who takes over.",
    }

    @model_validator(mode="after")
    def _one_assignee(self) -> Reassign:
        if (self.assignee_email is None) == (self.assignee_id is None):
            raise PydanticCustomError("one_assignee", "give assignee_email or assignee_id", {"field": "assignee_email"})
        return self


class RemindLate(Command):
    step_key: Key


class MeasureDecision(Command):
    decision: Literal["approve", "return"]
    comment: Comment = ""


class InviteReviewer(Command):
    """The use case checks the name, the address and the language, and says which is wrong."""

    name: Name = ""
    email: Email = ""
    language: str = Field(default=DEFAULT_LANGUAGE, max_length=8)


#: Every command's own messages, for the catalogue check.
FIELD_MESSAGES = {m for command in Command.__subclasses__() for m in command.field_messages.values()}
