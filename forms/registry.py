"""Which model each form key of the cycle definition names, and the one way input is checked.

``validate_form`` is what both the web form and the JSON API call: the model's own validation with
the task's rules as context, then the rules over several fields. ``json_schema`` is the model's
schema with the ids valid for the task as enums and the strategy period as limits.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from typing import Any, cast

from pydantic import ValidationError

from aarshjul.domain.errors import DomainError
from forms.fields import FormModel, FormProblem, FormRules
from forms.messages import safe_ctx
from forms.models import (
    ActionPlanForm,
    GoalAcknowledgementForm,
    GoalBreakdownForm,
    MeasureApprovalForm,
    MeasureEvaluationForm,
    MeasureProposalForm,
    NeedsMappingForm,
    StrategyReviewForm,
    TalkConfirmationForm,
    TalkFollowUpForm,
    TalkPreparationForm,
    TalkRecordForm,
    UnitGoalsForm,
)

FORMS: Mapping[str, type[FormModel]] = {
    "strategy_review": StrategyReviewForm,
    "unit_goals": UnitGoalsForm,
    "action_plan": ActionPlanForm,
    "needs_mapping": NeedsMappingForm,
    "measure_proposal": MeasureProposalForm,
    "measure_approval": MeasureApprovalForm,
    "talk_preparation": TalkPreparationForm,
    "talk_record": TalkRecordForm,
    "talk_confirmation": TalkConfirmationForm,
    "goal_breakdown": GoalBreakdownForm,
    "goal_acknowledgement": GoalAcknowledgementForm,
    "measure_evaluation": MeasureEvaluationForm,
    "talk_follow_up": TalkFollowUpForm,
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
        return FORMS[form_key]
    except KeyError as exc:
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


#: What a draft may still lack: a field not given, a text left empty, a list without its rows. Every
#: other rule of a field (its type, its length, the number of rows, the ids it may name) holds for
#: a draft as for a submission; the rules over several fields (``problems``) wait for the submission.
RELAXED_FOR_DRAFTS = frozenset({"missing", "string_too_short", "too_short"})


def draft_problems(form_key: str, data: Any, rules: FormRules | None) -> list[FormProblem]:
    """What is wrong with a draft's shape or size. Without ``rules`` only the shape and size are
    checked (the ids it names are not), which is how a stored draft is judged before it is shown."""
    cls = form_class(form_key)
    if not isinstance(data, dict):
        return [FormProblem((), "model_type")]
    try:
        cls.model_validate(data, context=rules)
    except ValidationError as exc:
        return [
            FormProblem(tuple(e["loc"]), e["type"], safe_ctx(e.get("ctx")))
            for e in exc.errors()
            if e["type"] not in RELAXED_FOR_DRAFTS
        ]
    return []


def validate_draft(form_key: str, data: Any, rules: FormRules) -> dict[str, Any]:
    """Check a draft like a submission, except that it need not be complete. Returns the data as given."""
    problems = draft_problems(form_key, data, rules)
    if problems:
        raise FormRejected(problems)
    return cast(dict[str, Any], data)


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


@cache
def referenced_kinds(form_key: str) -> frozenset[str]:
    """The kinds of earlier item (``RefKind``) a form's fields point at: all a submission's check needs
    to know of the task's valid ids."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for mark in ("x-ref", "x-rows"):
                if isinstance(node.get(mark), str):
                    found.add(node[mark])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(_model_schema(form_key))
    return frozenset(found)


@cache
def _model_schema(form_key: str) -> dict[str, Any]:
    # Generating a model's schema costs milliseconds; every opened task asks for one.
    return form_class(form_key).model_json_schema()


def json_schema(form_key: str, rules: FormRules) -> dict[str, Any]:
    """The form's JSON Schema for one task: references as enums of valid ids, every limit stated."""
    schema = copy.deepcopy(_model_schema(form_key))
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
