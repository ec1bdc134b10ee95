"""A use case's reason for refusing input reaches the person in their language: every reason written
in the code has a translation in every catalogue, and the placeholders are filled after translating."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aarshjul.domain.enums import Language
from aarshjul.domain.errors import InvalidInput
from aarshjul.presentation.i18n import reason_in, translations

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("aarshjul", "service", "forms", "notifications", "flows", "tasks")


def _written_reasons() -> set[str]:
    """The literal reasons of every ``InvalidInput(field, "reason", ...)`` in production code."""
    reasons = set()
    for folder in PRODUCTION:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "InvalidInput"
                    and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)
                    and isinstance(node.args[1].value, str)
                ):
                    reasons.add(node.args[1].value)
    return reasons


def test_the_code_has_reasons_to_check() -> None:
    assert "name who took part for the employer" in _written_reasons()


@pytest.mark.parametrize("language", [lang for lang in Language if lang is not Language.EN])
def test_every_reason_a_use_case_gives_is_translated(language: Language) -> None:
    catalogue = translations(language)
    missing = sorted(r for r in _written_reasons() if catalogue.gettext(r) == r)
    assert not missing, f"no {language} translation for: {missing}"


def test_a_reason_is_translated_before_its_placeholders_are_filled() -> None:
    exc = InvalidInput(
        "statements", "record the position of each union that took part: {unions}", unions="Fagforbundet"
    )
    assert exc.reason == "record the position of each union that took part: Fagforbundet"
    assert reason_in("en", exc) == exc.reason
    assert reason_in("nb", exc) == "registrer standpunktet til hver fagforening som deltok: Fagforbundet"
