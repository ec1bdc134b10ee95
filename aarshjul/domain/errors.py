"""Exceptions the domain raises; the edges turn them into form errors, 4xx answers or CLI messages."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain enforces."""


class CycleDefinitionError(DomainError):
    """The cycle definition file is malformed or inconsistent."""


class ImportProblem(DomainError):
    """An import file was refused; nothing was changed. The message names file, line and problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class NotFound(DomainError):
    """The object named does not exist (or is not visible to the caller)."""


class Conflict(DomainError):
    """The action does not fit the current state (a closed task, an overlapping cycle)."""


class InvalidInput(DomainError):
    """Input broke a rule; `field` names where, for a form or an API answer."""

    def __init__(self, field: str, reason: str, **params: str) -> None:
        self.field = field
        #: The reason in English with ``{name}`` placeholders: also the catalogue's msgid, so a page
        #: shows it in the reader's language (``aarshjul.presentation.i18n.reason_in``).
        self.template = reason
        self.params = params
        self.reason = reason.format(**params) if params else reason
        super().__init__(f"{field}: {self.reason}")


class Forbidden(DomainError):
    """The caller may not see or do this (privacy of talk notes, a non-HR token)."""
