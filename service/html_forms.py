"""HTML forms parsed into the commands' models (``service.commands``), and what a page needs to show
a refused form again: the errors beside the fields, in the reader's language, and the input kept.

``form_values`` reads what the person typed, by model field: a list field from every value of its
repeated name, a mapping from the names with its prefix, anything else as one string. ``parse_form``
validates that as the JSON face would be validated (empty values count as not given, as a JSON body
without the key), and raises ``FormInvalid`` with the problems and the typed values. ``carry_out``
parses and calls the use case; a refusal of either kind raises ``RefusedForm`` with a ``FailedForm``
for the page to show.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.datastructures import FormData

from aarshjul.domain.errors import DomainError, InvalidInput
from aarshjul.presentation.i18n import translations
from forms.fields import FormProblem
from forms.messages import ERROR_MESSAGES, FALLBACK, safe_ctx
from service.commands import Command

C = TypeVar("C", bound=Command)
R = TypeVar("R")
Typed = str | list[str] | dict[str, str]

#: Messages of the commands' own error types (English message ids); the rest are the forms' messages.
COMMAND_MESSAGES: Mapping[str, str] = {
    "date_out_of_range": "Give a date from {first} to {last}.",
    "text_unstorable": "Remove the control characters from the text.",
    "string_pattern_mismatch": "Choose one of the options.",
    "tasks_or_step": "Choose a step or at least one task.",
    "one_assignee": "Write the email address of the person who takes over.",
}


class FormInvalid(Exception):
    def __init__(self, problems: list[FormProblem], values: dict[str, Typed]) -> None:
        self.problems = problems
        self.values = values
        super().__init__(f"{len(problems)} problem(s)")


def _shape(annotation: Any) -> type | None:
    """list or dict for a field holding one (optional or not), else None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        shapes = {_shape(arg) for arg in typing.get_args(annotation) if arg is not type(None)}
        return shapes.pop() if len(shapes) == 1 else None
    if origin is typing.Annotated:
        return _shape(typing.get_args(annotation)[0])
    if origin in (list, dict):
        return typing.cast(type, origin)
    return None


def form_values(form: FormData, command: type[Command]) -> dict[str, Typed]:
    """What the person typed into the command's fields, stripped; files and unknown names are ignored."""
    values: dict[str, Typed] = {}
    for name, info in command.model_fields.items():
        html_name = command.html_names.get(name, name)
        shape = _shape(info.annotation)
        if shape is list:
            values[name] = [v.strip() for v in form.getlist(html_name) if isinstance(v, str)]
        elif shape is dict:
            prefix = command.html_prefixes.get(name, f"{name}.")
            values[name] = {
                key.removeprefix(prefix): value.strip()
                for key, value in form.multi_items()
                if key.startswith(prefix) and isinstance(value, str)
            }
        else:
            value = form.get(html_name)
            values[name] = value.strip() if isinstance(value, str) else ""
    return values


def _given(values: Mapping[str, Typed]) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list):
            kept: Any = [v for v in value if v]
        elif isinstance(value, dict):
            kept = {k: v for k, v in value.items() if v}
        else:
            kept = value
        if kept:
            given[name] = kept
    return given


def parse_form(form: FormData, command: type[C]) -> C:
    values = form_values(form, command)
    try:
        return command.model_validate(_given(values))
    except ValidationError as exc:
        problems = [FormProblem(tuple(e["loc"]), e["type"], safe_ctx(e.get("ctx"))) for e in exc.errors()]
        raise FormInvalid(problems, values) from exc


def field_of(problem: FormProblem) -> str:
    """The field a problem is about: its path without list indices, or the one a rule named."""
    named = ".".join(str(part) for part in problem.loc if not isinstance(part, int))
    return named or str(problem.ctx.get("field", ""))


def error_messages(problems: list[FormProblem], command: type[Command], language: str) -> dict[str, str]:
    """Per field, the first problem in the reader's language."""
    tr = translations(language).gettext
    errors: dict[str, str] = {}
    for problem in problems:
        name = field_of(problem)
        if name in errors:
            continue
        message_id = command.field_messages.get(name) or COMMAND_MESSAGES.get(problem.type)
        template = tr(message_id or ERROR_MESSAGES.get(problem.type, FALLBACK))
        try:
            errors[name] = template.format(**problem.ctx)
        except (KeyError, IndexError, ValueError):
            errors[name] = template
    return errors


@dataclass(frozen=True)
class FailedForm:
    """A refused form on a page: which one (a page can hold several, e.g. one per measure), the
    message per field ("" for the form as a whole) and what was typed. Empty when nothing failed."""

    form: str = ""
    errors: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Typed] = field(default_factory=dict)
    status: int = 422

    def __bool__(self) -> bool:
        return bool(self.errors)

    def error(self, form: str, name: str) -> str:
        return self.errors.get(name, "") if form == self.form else ""

    def value(self, form: str, name: str, default: str = "") -> str:
        if form != self.form:
            return default
        value = self.values.get(name, default)
        return value if isinstance(value, str) else default

    def chosen(self, form: str, name: str) -> list[str]:
        """The kept values of a repeated field (ticked boxes)."""
        value = self.values.get(name) if form == self.form else None
        return value if isinstance(value, list) else []

    def entry(self, form: str, name: str, key: str) -> str:
        """One kept entry of a mapping field (the start form's deadline of one step)."""
        value = self.values.get(name) if form == self.form else None
        return value.get(key, "") if isinstance(value, dict) else ""

    @classmethod
    def invalid(cls, form: str, exc: FormInvalid, command: type[Command], language: str) -> FailedForm:
        return cls(form, error_messages(exc.problems, command, language), exc.values)

    @classmethod
    def refused(cls, form: str, exc: DomainError, values: Mapping[str, Typed], status: int = 422) -> FailedForm:
        """A use case refused the parsed command; its reason goes beside the field it names."""
        if isinstance(exc, InvalidInput):
            return cls(form, {exc.field: exc.reason}, values, status)
        return cls(form, {"": str(exc)}, values, status)


NOTHING_FAILED = FailedForm()


class RefusedForm(Exception):
    def __init__(self, failed: FailedForm) -> None:
        self.failed = failed
        super().__init__(failed.form)


def carry_out(form: FormData, command: type[C], form_id: str, language: str, act: Callable[[C], R]) -> R:
    """Parse the form into ``command`` and ``act`` on it. Raises RefusedForm when the form does not
    parse or the use case refuses the input (InvalidInput); other domain errors pass through."""
    try:
        parsed = parse_form(form, command)
    except FormInvalid as exc:
        raise RefusedForm(FailedForm.invalid(form_id, exc, command, language)) from exc
    try:
        return act(parsed)
    except InvalidInput as exc:
        raise RefusedForm(FailedForm.refused(form_id, exc, form_values(form, command))) from exc
