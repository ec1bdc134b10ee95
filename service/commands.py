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

from aarshjul.domain.enums import CostKind, FundingSource, LearningForm, UnionPosition
from aarshjul.domain.planning import CostLine
from aarshjul.presentation.i18n import DEFAULT_LANGUAGE
from forms.fields import Money
from service.params import Comment, Day, Email, Id, Key, Name, StrictFlag, Text, Title, Year


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


class CostLineInput(Command):
    """One estimated cost: in one year, of one kind, in NOK, paid from one source."""

    year: Year
    kind: CostKind
    amount: Money = Field(description="NOK with at most two decimals, as a number or a string ('12 500,50')")
    funding: FundingSource = FundingSource.UNFUNDED
    scheme: Name = Field(default="", description="The grant scheme's name, when funding is 'grant'")

    def line(self) -> CostLine:
        return CostLine(self.year, self.kind, self.amount, self.funding, self.scheme)


#: The cost lines of a measure; in the HTML form ``costs.0.year``, ``costs.0.kind`` ...
CostLines = list[CostLineInput]


def lines(costs: CostLines | None) -> list[CostLine] | None:
    return None if costs is None else [c.line() for c in costs]


class MeasureDecision(Command):
    decision: Literal["approve", "return"]
    comment: Comment = ""
    costs: CostLines | None = Field(
        default=None, max_length=100, description="On approval: HR's adjusted cost lines in place of the proposal's"
    )


class PlanMeasure(Command):
    """An organisation-wide measure of HR's, described as the lecture's template asks. With
    ``merge_ids`` it takes the place of those units' proposals (their needs come along)."""

    title: Title
    learning_form: LearningForm
    first_year: Year
    last_year: Year
    target_group: Text = ""
    desired_effect: Text = ""
    success_criteria: Text = ""
    learning_goals: Text = ""
    form_and_content: Text = ""
    evaluation_method: Text = ""
    starts_on: Day | None = None
    evaluate_on: Day | None = None
    need_ids: list[Id] = Field(default_factory=list, max_length=500, description="The critical needs it answers")
    area_ids: list[Id] = Field(default_factory=list, max_length=50, description="Competence areas, the main one first")
    costs: CostLines | None = Field(
        default=None, max_length=100, description="Cost lines; when merging and not given, the proposals' added up"
    )
    merge_ids: list[Id] = Field(default_factory=list, max_length=200, description="Unit proposals it replaces")

    html_names = {"need_ids": "need_id", "area_ids": "area_id", "merge_ids": "merge_id"}
    field_messages = {
        "title": "Give the measure a title.",
        "need_ids": "Choose the critical needs the measure answers.",
        "learning_form": "Choose a learning form.",
    }


class PlaceMeasure(Command):
    """HR places a measure of the plan in competence areas (the main one first) and prices it."""

    area_ids: list[Id] = Field(default_factory=list, max_length=50)
    costs: CostLines | None = Field(default=None, max_length=100)

    html_names = {"area_ids": "area_id"}


class ConsultationParticipantInput(Command):
    name: Name
    union: Name = Field(default="", description="The union; empty for the employer's side")
    role: Name = ""


class UnionStatementInput(Command):
    union: Name
    position: UnionPosition
    comment: Text = ""


class RecordConsultation(Command):
    """The consultation meeting with the union representatives. The minutes as a PDF go with the
    HTML form as a file, or to ``PUT /api/plan/versions/{number}/consultation/minutes.pdf``."""

    meeting_on: Day
    participants: list[ConsultationParticipantInput] = Field(default_factory=list, max_length=60)
    statements: list[UnionStatementInput] = Field(default_factory=list, max_length=60)
    minutes_text: Text = ""

    field_messages = {"meeting_on": "Give the date of the meeting."}


class AdoptPlan(Command):
    adopted_by: Name = Field(description="The body that adopted it, e.g. Kommunedirektøren or a committee")
    adopted_on: Day = Field(description="The date of the decision")
    case_number: Name = Field(description="The case number (saksnummer)")

    field_messages = {
        "adopted_by": "Name who adopted the plan.",
        "adopted_on": "Give the date of the decision.",
        "case_number": "Give the case number.",
    }


class InviteReviewer(Command):
    """The use case checks the name, the address and the language, and says which is wrong."""

    name: Name = ""
    email: Email = ""
    language: str = Field(default=DEFAULT_LANGUAGE, max_length=8)


#: Every command's own messages, for the catalogue check.
FIELD_MESSAGES = {m for command in Command.__subclasses__() for m in command.field_messages.values()}
