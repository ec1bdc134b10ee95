"""What a person reads about the forms: error messages and option labels, as English message ids.

The gettext catalogues (``aarshjul/presentation/locale/<lang>/LC_MESSAGES/forms.po``) translate them; the web form
and the JSON API use the same text, so both faces say the same thing about the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aarshjul.domain.enums import CompetenceKind, CompetenceStrategy, LearningForm, MeasureState, TaskState
from forms.fields import FormProblem
from forms.models import Agreement, CriteriaMet, MeasureDecision, NextStep

REQUIRED = "This field is required."
DATE = "Give a date as YYYY-MM-DD."
WHOLE_NUMBER = "Give a whole number."
CHOOSE = "Choose one of the options."
TIME = "Give a time as HH:MM."

#: Error type (Pydantic's own or ours) -> message id; ``{name}`` is filled from the error's details.
ERROR_MESSAGES: Mapping[str, str] = {
    "missing": REQUIRED,
    "string_too_short": REQUIRED,
    "string_too_long": "Use at most {max_length} characters.",
    "string_type": "Give text.",
    "too_short": "Add at least {min_length}.",
    "too_long": "Give at most {max_length}.",
    "list_type": "Give a list.",
    "int_parsing": WHOLE_NUMBER,
    "int_type": WHOLE_NUMBER,
    "int_from_float": WHOLE_NUMBER,
    "greater_than_equal": "Give a number of at least {ge}.",
    "less_than_equal": "Give a number of at most {le}.",
    "date_parsing": DATE,
    "date_type": DATE,
    "date_from_datetime_parsing": DATE,
    "date_from_datetime_inexact": DATE,
    "time_parsing": TIME,
    "time_type": TIME,
    "enum": CHOOSE,
    "literal_error": CHOOSE,
    "bool_parsing": "Give yes or no (true or false).",
    "bool_type": "Give yes or no (true or false).",
    "extra_forbidden": "This field is not part of the form.",
    "model_type": "Give an object with the form's fields.",
    "dict_type": "Give an object with the form's fields.",
    "model_attributes_type": "Give an object with the form's fields.",
    "json_invalid": "The body is not valid JSON.",
    "text_unstorable": "Remove the control characters from the text.",
    "unknown_choice": "Choose one of the listed options.",
    "outside_period": "Give a date within the strategy period ({first} to {last}).",
    "year_outside_period": "Give a year within the strategy period ({first}–{last}).",
    "duplicate_choice": "This is already chosen in another row.",
    "every_choice_needed": "Fill in one row for each item listed.",
    "duplicate_priority": "Another goal has the same priority; give each goal its own.",
    "end_before_start": "This must not be before the start.",
    "start_outside_years": "The start must fall within the first and the last year.",
    "evaluation_before_start": "The evaluation date must be after the start.",
    "comment_required": "Write a comment.",
    "passive_needed": "Say where the competence exists, so that it can be mobilised.",
    "tie_needed": "Tie the activity to a critical need or a measure.",
    "date_in_past": "Give a date from today on.",
    "must_acknowledge": "Tick the box to acknowledge your goals.",
    "goal_in_use": "This goal is used by the critical need «{need}»; remove or change the need first.",
    "talk_in_past": "The talk must be in the future.",
    "talk_outside_year": "Give a date in {year}, the year of the cycle.",
    "need_in_use": "This need is used by the measure «{measure}»; remove or change the measure first.",
}
FALLBACK = "This value is not valid."

#: Option value -> label message id, for every enum a form offers.
CHOICE_LABELS: Mapping[str, str] = {
    CompetenceKind.KNOWLEDGE: "Knowledge",
    CompetenceKind.SKILLS: "Skills",
    CompetenceKind.ABILITIES: "Abilities",
    CompetenceKind.ATTITUDES: "Attitudes, interests, values and motivation",
    CompetenceStrategy.MOBILISE: "Mobilise: put existing competence to use",
    CompetenceStrategy.DEVELOP: "Develop",
    CompetenceStrategy.ACQUIRE: "Acquire: recruit or hire in",
    CompetenceStrategy.PHASE_OUT: "Phase out: no longer needed",
    LearningForm.ON_THE_JOB: "Learning on the job",
    LearningForm.SMALL_LEARNING: "Small everyday learning",
    LearningForm.MENTORING: "Mentoring",
    LearningForm.ROTATION: "Job rotation",
    LearningForm.SHARING: "Sharing experience",
    LearningForm.COURSE: "Course",
    LearningForm.PROGRAMME: "Development programme",
    LearningForm.EDUCATION: "Formal education",
    MeasureDecision.APPROVE: "Approve",
    MeasureDecision.RETURN: "Return to the unit leader",
    Agreement.AGREE: "I agree with the record",
    Agreement.COMMENT: "I want to add a comment",
    CriteriaMet.YES: "Yes",
    CriteriaMet.PARTLY: "Partly",
    CriteriaMet.NO: "No",
    NextStep.CONTINUE: "Continue as it is",
    NextStep.ADJUST: "Continue with changes",
    NextStep.STOP: "Stop",
    MeasureState.PROPOSED: "Waiting for HR",
    MeasureState.APPROVED: "Approved",
    MeasureState.RETURNED: "Returned",
    MeasureState.WITHDRAWN: "Withdrawn",
    MeasureState.EVALUATED: "Evaluated",
    TaskState.OPEN: "Open",
    TaskState.SUBMITTED: "Submitted",
    TaskState.CANCELLED: "Cancelled",
}


def message_for(problem: FormProblem, gettext: Callable[[str], str]) -> str:
    template = gettext(ERROR_MESSAGES.get(problem.type, FALLBACK))
    try:
        return template.format(**problem.ctx)
    except (KeyError, IndexError, ValueError):
        return template


def safe_ctx(ctx: Mapping[str, Any] | None) -> dict[str, str | int | float]:
    """The details of an error that can go into a message and a JSON answer."""
    return {k: v for k, v in (ctx or {}).items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
