"""The form models without a database: parsing a posted HTML form, the schema's limits, and every
text a person reads about a form translated to bokmål."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from aarshjul.presentation.i18n import translations
from forms.fields import FormRules
from forms.layout import ListSpec, layout_of, parse_form
from forms.messages import CHOICE_LABELS, ERROR_MESSAGES, FALLBACK
from forms.models import TalkPreparationForm, UnitGoalsForm
from forms.registry import FORMS, FormRejected, json_schema, validate_form

ROOT = Path(__file__).resolve().parent.parent.parent
RULES = FormRules({"main_goal": frozenset({1, 2})}, 2025, 2028, dt.date(2027, 1, 4))


def test_empty_rows_are_dropped_and_empty_inputs_left_out() -> None:
    posted = {
        "goals.0.title": "Mål én",
        "goals.0.priority": "",
        "goals.1.title": " ",
        "goals.1.id": "",
        "csrf": "x",
    }
    assert parse_form(UnitGoalsForm, posted) == {"goals": [{"title": "Mål én"}]}


def test_an_unticked_box_is_false() -> None:
    data = parse_form(TalkPreparationForm, {"development_wishes": "Lære", "share_wishes": "true"})
    assert (data["share_wishes"], data["share_self_assessment"]) == (True, False)


def test_ids_outside_the_task_are_refused() -> None:
    goal = {"strategic_goal_id": 3, "title": "Mål", "priority": 1, "indicator": "i", "target": "t"}
    with pytest.raises(FormRejected) as refused:
        validate_form("unit_goals", {"goals": [goal]}, RULES)
    assert [(p.loc, p.type) for p in refused.value.problems] == [(("goals", 0, "strategic_goal_id"), "unknown_choice")]


def test_schema_states_enums_and_limits() -> None:
    schema = json_schema("unit_goals", RULES)
    item = schema["$defs"]["UnitGoalItem"]["properties"]
    assert item["strategic_goal_id"]["enum"] == [1, 2]
    assert item["indicator"]["maxLength"] == 2000
    assert schema["properties"]["goals"]["maxItems"] == 50


def _template_texts() -> set[str]:
    texts: set[str] = set()
    sources = [*(ROOT / "service/templates/forms").glob("*.html"), ROOT / "service/routes/forms.py"]
    for path in sources:
        texts |= set(re.findall(r'(?:_|tr)\("((?:[^"\\]|\\.)+)"\)', path.read_text()))
    return texts


def test_every_text_of_the_forms_has_a_bokmaal_translation() -> None:
    nb = translations("nb")
    texts = set(ERROR_MESSAGES.values()) | {FALLBACK} | set(CHOICE_LABELS.values()) | _template_texts()
    for cls in FORMS.values():
        for part in layout_of(cls):
            specs = [part, *part.fields] if isinstance(part, ListSpec) else [part]
            texts |= {t for s in specs if getattr(s, "widget", "") != "hidden" for t in (s.label, s.hint) if t}
    same_in_both = {"For"}
    missing = sorted(t for t in texts if nb.gettext(t) == t and t not in same_in_both)
    assert not missing
