"""An organisation's own cycle definition (AARSHJUL_CYCLE_DEFINITION_PATH): renamed steps, moved dates,
other ladders and a dropped step run without touching code; editing the file never changes a running
cycle; a definition that could not run to the end is refused before anything starts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from aarshjul.clock import ManualClock
from aarshjul.db.models import Cycle, CycleDefinitionRecord, UnitStep
from aarshjul.domain.cycle_spec import DEFAULT_DEFINITION_PATH
from aarshjul.domain.errors import CycleDefinitionError
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.definitions import definition_of
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.start import clone_last_year, preview_cycle, start_cycle
from aarshjul.usecases.cycle.sweep import sweep
from tests.integration.cycle.helpers import (
    approve,
    at,
    notifications,
    open_tasks,
    propose_measure,
    step_states,
    submit,
)


def _standard() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_DEFINITION_PATH.read_text(encoding="utf-8"))
    return data


def _step(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in data["steps"] if s["key"] == key)


def _use_file(runtime: Runtime, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the runtime at the file the way an administrator does: through the environment."""
    monkeypatch.setenv("AARSHJUL_CYCLE_DEFINITION_PATH", str(path))
    from_env = Settings().cycle_definition_path
    assert from_env == path
    runtime.settings = runtime.settings.model_copy(update={"cycle_definition_path": from_env})


def _finish(runtime: Runtime, cycle_id: int, step_key: str) -> None:
    for _ in range(5):
        tasks = open_tasks(runtime, cycle_id=cycle_id, step_key=step_key)
        if not tasks:
            return
        submit(runtime, tasks)
        advance_cycle(runtime, cycle_id)


def test_a_cycle_runs_from_the_organisations_own_file_and_keeps_it_when_the_file_changes(
    runtime: Runtime, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_demo(runtime)
    mine = _standard()
    mine["version"] = 2
    review = _step(mine, "strategy_review")
    review["name"] = {"nb": "Strategidag", "en": "Strategy day"}
    review["deadline"] = {"date": "2027-02-01"}
    review["reminders_days_before"] = [3]
    review["escalation"] = [{"after_days": 2, "to": "hr"}]
    _step(mine, "action_plan")["enabled"] = False
    path = tmp_path / "our-cycle.yaml"
    path.write_text(yaml.safe_dump(mine, allow_unicode=True), encoding="utf-8")
    _use_file(runtime, path, monkeypatch)

    cycle_id = start_cycle(runtime, 2027, actor="hr")
    with runtime.sessions() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        assert cycle.step_due["strategy_review"] == "2027-02-01"
        assert "action_plan" not in cycle.step_due
        record = session.get(CycleDefinitionRecord, cycle.definition_id)
        assert record is not None and (record.key, record.version) == ("standard", 2)
    assert {t.due_on for t in open_tasks(runtime)} == {dt.date(2027, 2, 1)}

    # The organisation edits the file while the year runs: other names, ladders, the step back in.
    edited = _standard()
    edited["version"] = 3
    _step(edited, "strategy_review")["name"] = {"nb": "Noe annet", "en": "Something else"}
    _step(edited, "strategy_review")["deadline"] = {"offset_days": 5}
    path.write_text(yaml.safe_dump(edited, allow_unicode=True), encoding="utf-8")
    assert runtime.cycle_definition().version == 3

    # The running cycle still reminds 3 days before (not 7), and escalates to HR after 2 days (not to
    # the manager after 3).
    sweep(runtime, at("2027-01-26"))
    assert notifications(runtime, "task_reminder") == []
    sweep(runtime, at("2027-01-29"))
    reminders = notifications(runtime, "task_reminder")
    assert len(reminders) == 8 and {n.context["days_left"] for n in reminders} == {3}
    submit(runtime, [t for t in open_tasks(runtime) if t.id != open_tasks(runtime)[0].id])
    sweep(runtime, at("2027-02-04"))
    assert notifications(runtime, "escalation_manager") == []
    (to_hr,) = notifications(runtime, "escalation_hr")
    assert [i["task_id"] for i in to_hr.context["late"]] == [open_tasks(runtime)[0].id]
    assert definition_of(runtime, cycle_id).step("strategy_review").name.nb == "Strategidag"
    submit(runtime, open_tasks(runtime, step_key="strategy_review"))

    # Without the action plan the talks wait only for the measures, and no unit ever has the step.
    clock.set(at("2027-02-05"))
    advance_cycle(runtime, cycle_id)
    _finish(runtime, cycle_id, "unit_goals")
    _finish(runtime, cycle_id, "competence_mapping")
    _finish(runtime, cycle_id, "needs_mapping")
    for task in open_tasks(runtime, step_key="measure_proposals"):
        measure = propose_measure(runtime, cycle_id, task.unit_id, task.assignee_id, None, 2027)
        submit(runtime, [task])
        advance_cycle(runtime, cycle_id)
        approve(runtime, measure)
    advance_cycle(runtime, cycle_id)
    states = step_states(runtime, cycle_id)
    assert {k for _, k in states} == {
        "strategy_review",
        "unit_goals",
        "competence_mapping",
        "needs_mapping",
        "measure_proposals",
        "talks",
        "goal_breakdown",
    }
    assert {s for (_, k), s in states.items() if k == "talks"} == {"open"}
    _finish(runtime, cycle_id, "talks")
    _finish(runtime, cycle_id, "goal_breakdown")
    assert set(step_states(runtime, cycle_id).values()) == {"done"}
    close_cycle(runtime, cycle_id, actor="hr")

    # Cloned, the next year runs on last year's definition (version 2), its fixed date one year on,
    # not on the file as it is now.
    clock.set(at("2027-12-01"))
    second = clone_last_year(runtime, actor="hr")
    with runtime.sessions() as session:
        first_cycle, cloned = session.get(Cycle, cycle_id), session.get(Cycle, second)
        assert first_cycle is not None and cloned is not None
        assert cloned.step_due["strategy_review"] == "2028-02-01"
        assert "action_plan" not in cloned.step_due
        assert not session.scalars(
            select(UnitStep).where(UnitStep.cycle_id == second, UnitStep.step_key == "action_plan")
        ).all()
    cloned_definition = definition_of(runtime, second)
    assert cloned_definition.version == 2
    assert cloned_definition.step("strategy_review").name.nb == "Strategidag"
    assert cloned_definition.step("strategy_review").deadline.date == dt.date(2028, 2, 1)
    assert not cloned_definition.step("action_plan").enabled


def test_a_definition_that_could_not_run_to_the_end_is_refused_before_anything_starts(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_demo(runtime)
    path = tmp_path / "our-cycle.yaml"
    _use_file(runtime, path, monkeypatch)

    # Measures answer critical needs: without the needs mapping no unit could ever propose one.
    dropped = _standard()
    _step(dropped, "needs_mapping")["enabled"] = False
    path.write_text(yaml.safe_dump(dropped, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CycleDefinitionError, match="measure_proposals.*'needs_mapping'"):
        preview_cycle(runtime, 2027)
    with pytest.raises(CycleDefinitionError, match="talks, part record"):
        start_cycle(runtime, 2027)

    typo = _standard()
    _step(typo, "unit_goals")["parts"][0]["form"] = "unit_goal"
    path.write_text(yaml.safe_dump(typo, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CycleDefinitionError, match="no form called 'unit_goal'"):
        start_cycle(runtime, 2027)
    with runtime.sessions() as session:
        assert session.scalars(select(Cycle)).all() == []

    # Dropping a step nothing later needs is fine.
    fine = _standard()
    _step(fine, "strategy_review")["enabled"] = False
    path.write_text(yaml.safe_dump(fine, allow_unicode=True), encoding="utf-8")
    start_cycle(runtime, 2027)
    assert {t.step_key for t in open_tasks(runtime)} == {"unit_goals"}
