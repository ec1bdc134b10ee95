from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from aarshjul.domain.cycle_spec import DEFAULT_DEFINITION_PATH, load_definition, parse_definition
from aarshjul.domain.errors import CycleDefinitionError


def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_DEFINITION_PATH.read_text(encoding="utf-8"))
    return data


def test_the_standard_cycle_has_the_seven_steps_in_order() -> None:
    definition = load_definition()
    # The competence mapping is the first half of the lecture's step 4: knowing before deciding.
    assert [s.number for s in definition.active_steps] == [1, 2, 3, 4, 4, 5, 6, 7]
    assert definition.effective_dependencies("talks") == {"action_plan", "measure_proposals"}
    assert definition.effective_dependencies("needs_mapping") == {"unit_goals", "competence_mapping"}
    assert definition.effective_dependencies("competence_mapping") == {"unit_goals"}
    assert definition.step("competence_mapping").per_employee
    assert definition.step("talks").name.get("nb") == "Mål- og utviklingssamtaler"
    assert definition.step("talks").per_employee
    assert [p.key for p in definition.step("talks").first_parts()] == ["prepare"]


def test_deadlines_resolve_from_the_start_date() -> None:
    due = load_definition().due_dates(dt.date(2027, 1, 4))
    assert due["strategy_review"] == dt.date(2027, 1, 25)
    assert due["goal_breakdown"] > due["talks"] > due["measure_proposals"]


def test_the_competence_mapping_is_optional() -> None:
    data = raw()
    for step in data["steps"]:
        if step["key"] == "competence_mapping":
            step["enabled"] = False
    definition = parse_definition(data)
    assert definition.effective_dependencies("needs_mapping") == {"unit_goals"}
    assert [s.number for s in definition.active_steps] == [1, 2, 3, 4, 5, 6, 7]


def test_a_dropped_step_is_bridged_to_its_inputs() -> None:
    data = raw()
    for step in data["steps"]:
        if step["key"] == "needs_mapping":
            step["enabled"] = False
    definition = parse_definition(data)
    assert definition.effective_dependencies("measure_proposals") == {"unit_goals", "competence_mapping"}
    assert "needs_mapping" not in definition.due_dates(dt.date(2027, 1, 4))


def test_renaming_a_step_changes_the_content_hash() -> None:
    data = raw()
    data["steps"][0]["name"]["nb"] = "Strategidag"
    assert parse_definition(data).sha256 != load_definition().sha256


def test_a_loop_between_steps_is_refused() -> None:
    data = raw()
    data["steps"][0]["depends_on"] = ["goal_breakdown"]
    with pytest.raises(CycleDefinitionError, match="loop"):
        parse_definition(data, "mine.yaml")


def test_an_unknown_dependency_is_named() -> None:
    data = raw()
    data["steps"][1]["depends_on"] = ["strategy_reveiw"]
    with pytest.raises(CycleDefinitionError, match="unknown step strategy_reveiw"):
        parse_definition(data, "mine.yaml")


def test_escalation_rungs_must_rise() -> None:
    data = raw()
    data["steps"][0]["escalation"] = [{"after_days": 10, "to": "hr"}, {"after_days": 3, "to": "manager"}]
    with pytest.raises(CycleDefinitionError, match="rising order"):
        parse_definition(data, "mine.yaml")


def test_fixed_dates_move_one_year_when_cloning() -> None:
    data = raw()
    data["steps"][0]["deadline"] = {"date": "2028-02-29"}
    shifted = parse_definition(data).shifted_one_year()
    assert shifted.step("strategy_review").deadline.date == dt.date(2029, 2, 28)
    assert shifted.step("unit_goals").deadline.offset_days == 42


def test_a_deadline_needs_exactly_one_form() -> None:
    data = raw()
    data["steps"][0]["deadline"] = {"offset_days": 3, "date": "2027-01-01"}
    with pytest.raises(CycleDefinitionError, match="either offset_days or date"):
        parse_definition(data, "mine.yaml")
