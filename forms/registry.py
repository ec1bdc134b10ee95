"""Which model each form key of the cycle definition names, and the one way input is checked.

``validate_form`` is what both the web form and the JSON API call: the model's own validation with
the task's rules as context, then the rules over several fields. ``json_schema`` is the model's
schema with the ids valid for the task as enums and the strategy period as limits.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from aarshjul.domain.enums import FormKey
from aarshjul.domain.errors import DomainError
from forms.fields import FormModel, FormProblem, FormRules
from forms.messages import safe_ctx
from forms.models import (
    ActionPlanForm,
    CompetenceMappingForm,
    GoalAcknowledgementForm,
    GoalBreakdownForm,
    MeasureApprovalForm,
    MeasureEvaluationForm,
    MeasureFeedbackForm,
    MeasureProposalForm,
    NeedsMappingForm,
    StrategyReviewForm,
    TalkConfirmationForm,
    TalkFollowUpForm,
    TalkPreparationForm,
    TalkRecordForm,
    UnitGoalsForm,
)

FORMS: Mapping[FormKey, type[FormModel]] = {
    FormKey.STRATEGY_REVIEW: StrategyReviewForm,
    FormKey.UNIT_GOALS: UnitGoalsForm,
    FormKey.ACTION_PLAN: ActionPlanForm,
    FormKey.NEEDS_MAPPING: NeedsMappingForm,
    FormKey.MEASURE_PROPOSAL: MeasureProposalForm,
    FormKey.MEASURE_APPROVAL: MeasureApprovalForm,
    FormKey.TALK_PREPARATION: TalkPreparationForm,
    FormKey.TALK_RECORD: TalkRecordForm,
    FormKey.TALK_CONFIRMATION: TalkConfirmationForm,
    FormKey.GOAL_BREAKDOWN: GoalBreakdownForm,
    FormKey.GOAL_ACKNOWLEDGEMENT: GoalAcknowledgementForm,
    FormKey.MEASURE_EVALUATION: MeasureEvaluationForm,
    FormKey.TALK_FOLLOW_UP: TalkFollowUpForm,
    FormKey.COMPETENCE_MAPPING: CompetenceMappingForm,
    FormKey.MEASURE_FEEDBACK: MeasureFeedbackForm,
}


class UnknownForm(DomainError):
    """The task names a form this version of the product does not have."""


class FormRejected(DomainError):
    """The input broke one or more of the form's rules; nothing was saved."""

    def __init__(self, problems: list[FormProblem], restore: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        self.problems = problems
        #: Rows the person removed that have to stay, per list: a refused web form shows them again
        #: at the end of their list, which is where the problems about them point.
        self.restore = {name: list(rows) for name, rows in (restore or {}).items()}
        super().__init__("; ".join(f"{'.'.join(map(str, p.loc)) or 'form'}: {p.type}" for p in problems))


def form_class(form_key: str) -> type[FormModel]:
    try:
        return FORMS[FormKey(form_key)]
    except (KeyError, ValueError) as exc:
        raise UnknownForm(f"no form called {form_key!r}") from exc


def validate_form(form_key: str, data: Any, rules: FormRules) -> FormModel:
    cls = form_class(form_key)
    if not isinstance(data, dict):
        raise FormRejected([FormProblem((), "model_type")])
    try:
        form = cls.model_validate(data, context=rules)
    except ValidationError as exc:
        raise FormRejected(
            [FormProblem(tuple(e["loc"]), e["type"], safe_ctx(e.get("ctx"))) for e in exc.errors()]
        ) from exc
    problems = form.problems(rules)
    if problems:
        raise FormRejected(problems)
    return form


def validate_form_part(cls: type[FormModel], data: Any, names: tuple[str, ...], rules: FormRules) -> FormModel:
    """Check only the fields ``names`` of ``data`` against ``cls`` (a part of a bigger form that
    takes effect before the rest is filled in, such as the time of a talk saved in a draft)."""
    given = {name: data[name] for name in names if name in data} if isinstance(data, dict) else {}
    try:
        part = cls.model_validate(given, context=rules)
    except ValidationError as exc:
        raise FormRejected(
            [FormProblem(tuple(e["loc"]), e["type"], safe_ctx(e.get("ctx"))) for e in exc.errors()]
        ) from exc
    problems = part.problems(rules)
    if problems:
        raise FormRejected(problems)
    return part


def json_schema(form_key: str, rules: FormRules) -> dict[str, Any]:
    """The form's JSON Schema for one task: references as enums of valid ids, every limit stated."""
    schema = copy.deepcopy(form_class(form_key).model_json_schema())
    _annotate(schema, rules)
    return schema


def _annotate(node: Any, rules: FormRules) -> None:
    if isinstance(node, dict):
        kind = node.get("x-ref")
        if isinstance(kind, str):
            node["enum"] = sorted(rules.choices.get(kind, frozenset()))
        period = node.get("x-period")
        if period == "date":
            first, last = rules.date_range(node.get("x-not-before"))
            node["formatMinimum"], node["formatMaximum"] = first.isoformat(), last.isoformat()
        elif period == "year":
            node["minimum"] = rules.first_year
            node["maximum"] = rules.last_year
        rows = node.get("x-rows")
        if isinstance(rows, str):
            # One row per valid item: the number of rows is known for this task.
            count = len(rules.choices.get(rows, frozenset()))
            node["minItems"] = max(int(node.get("minItems", 0)), count)
            node["maxItems"] = count
        for value in node.values():
            _annotate(value, rules)
    elif isinstance(node, list):
        for value in node:
            _annotate(value, rules)
