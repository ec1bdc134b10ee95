"""The status board document: cell states, per-employee counts, the late list, filters, privacy."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from sqlalchemy import event, select, update

from aarshjul.clock import ManualClock
from aarshjul.db.models import CriticalNeed, Notification, StrategicGoal, UnitGoal
from aarshjul.domain.enums import NotificationState, TaskState
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.reporting import board
from aarshjul.usecases.reporting.board import cycle_status, cycle_status_json
from aarshjul.usecases.reporting.board_model import (
    BoardFilters,
    CellState,
    CycleStatus,
    FollowUps,
    LocalizedName,
    status_csv,
)
from aarshjul.usecases.reporting.unit_detail import unit_detail
from tests.builders import demo_cycle, drive_unit, find_tasks, follow_up_task, submit_valid, unit_id


def _status(runtime: Runtime, cycle_id: int, filters: BoardFilters | None = None) -> CycleStatus:
    today = runtime.clock().astimezone(runtime.settings.zone).date()
    with runtime.sessions() as session:
        return cycle_status(session, cycle_id, filters, today=today)


def _cell(status: CycleStatus, unit: int, step: str) -> tuple[CellState, tuple[int, int] | None]:
    row = next(u for u in status.units if u.id == unit)
    cell = next(c for c in row.cells if c.step_key == step)
    return cell.state, (cell.counts.done, cell.counts.total) if cell.counts else None


@pytest.fixture
def cycle_id(runtime: Runtime) -> int:
    return demo_cycle(runtime)


def test_a_submitted_strategy_review_turns_the_cell_done_and_opens_the_next_step(
    runtime: Runtime, cycle_id: int
) -> None:
    hel = unit_id(runtime, "HEL")
    assert _cell(_status(runtime, cycle_id), hel, "strategy_review")[0] is CellState.OPEN
    submit_valid(runtime, drive_unit(runtime, cycle_id, hel, "strategy_review"))
    status = _status(runtime, cycle_id)
    assert _cell(status, hel, "strategy_review")[0] is CellState.DONE
    assert _cell(status, hel, "unit_goals")[0] is CellState.OPEN
    assert _cell(status, unit_id(runtime, "HJE"), "strategy_review")[0] is CellState.OPEN
    first = status.steps[0]
    assert first.units_by_state[CellState.DONE] == 1 and first.units_by_state[CellState.OPEN] == 7
    # Units come as the tree: the top unit first, children after their parent, one level deeper.
    by_id = {u.id: u for u in status.units}
    assert status.units[0].depth == 0
    for position, unit in enumerate(status.units):
        if unit.parent_id is not None:
            assert [u.id for u in status.units[:position]].count(unit.parent_id) == 1
            assert unit.depth == by_id[unit.parent_id].depth + 1


def test_talks_are_counted_per_employee_and_their_contents_stay_private(runtime: Runtime, cycle_id: int) -> None:
    hje = unit_id(runtime, "HJE")
    before = _status(runtime, cycle_id)
    assert _cell(before, hje, "talks") == (CellState.NOT_STARTED, (0, 11))
    drive_unit(runtime, cycle_id, hje, "talk_confirmation")
    during = _status(runtime, cycle_id)
    assert _cell(during, hje, "talks") == (CellState.OPEN, (0, 11))
    drive_unit(runtime, cycle_id, hje, "goal_breakdown")
    after = _status(runtime, cycle_id)
    assert _cell(after, hje, "talks") == (CellState.DONE, (11, 11))
    talks = next(s for s in after.steps if s.key == "talks")
    assert talks.people is not None and talks.people.done == 11
    with runtime.sessions() as session:
        detail = unit_detail(session, cycle_id, hje, today=dt.date(2027, 1, 4))
    talk_forms = [f for f in detail.submitted if f.step_key == "talks"]
    assert len(talk_forms) == 33 and all(f.private and f.fields == [] for f in talk_forms)
    assert all(f.about_person for f in talk_forms)
    review = next(f for f in detail.submitted if f.form_key == "strategy_review")
    assert not review.private and review.fields


def test_late_tasks_turn_cells_overdue_then_escalated_and_are_listed_in_tree_order(
    runtime: Runtime, cycle_id: int, clock: ManualClock
) -> None:
    clock.advance(days=22)  # past the strategy review's deadline (21 days after the start)
    overdue = _status(runtime, cycle_id)
    assert {c.state for u in overdue.units for c in u.cells if c.step_key == "strategy_review"} == {CellState.OVERDUE}
    assert overdue.late_total == 8 and all(t.days_late == 1 and t.escalation_rung == 0 for t in overdue.late)
    assert [t.unit_id for t in overdue.late] == [u.id for u in overdue.units]
    clock.advance(days=4)
    sweep(runtime, advance=False)
    escalated = _status(runtime, cycle_id)
    assert _cell(escalated, unit_id(runtime, "HEL"), "strategy_review")[0] is CellState.ESCALATED
    assert {t.escalation_rung for t in escalated.late} == {1}


def test_filters_narrow_units_steps_and_late_only(runtime: Runtime, cycle_id: int, clock: ManualClock) -> None:
    hel = unit_id(runtime, "HEL")
    subtree = _status(runtime, cycle_id, BoardFilters(unit_id=hel))
    assert {u.code for u in subtree.units} == {"HEL", "HJE", "SOL"}
    assert subtree.units[0].depth == 0
    one_step = _status(runtime, cycle_id, BoardFilters(step="talks"))
    assert [s.key for s in one_step.steps] == ["talks"] and all(len(u.cells) == 1 for u in one_step.units)
    submit_valid(runtime, drive_unit(runtime, cycle_id, hel, "strategy_review"))
    clock.advance(days=22)
    late = _status(runtime, cycle_id, BoardFilters(late_only=True))
    assert hel not in {u.id for u in late.units} and len(late.units) == 7
    csv_text = status_csv(late, "en")
    assert csv_text.splitlines()[0].startswith("unit_id,unit_code,unit,parent_id,depth,1. Strategy review")
    assert len(csv_text.splitlines()) == 8


def test_the_board_never_sorts_people_by_how_late_they_are(runtime: Runtime, cycle_id: int, clock: ManualClock) -> None:
    clock.advance(days=40)
    status = _status(runtime, cycle_id)
    order = [t.unit_id for t in status.late]
    tree = [u.id for u in status.units]
    assert order == sorted(order, key=tree.index)


def test_follow_ups_are_counted_per_unit_and_every_task_has_a_name(runtime: Runtime, cycle_id: int) -> None:
    unit = unit_id(runtime, "HR")
    first = follow_up_task(runtime, cycle_id, unit)
    submit_valid(runtime, first)
    with runtime.sessions() as session:
        waiting = len(find_tasks(runtime, cycle_id, "talk_follow_up", unit, states=(TaskState.OPEN,)))
        assert waiting >= 1
        today = runtime.clock().astimezone(runtime.settings.zone).date()
        detail = unit_detail(session, cycle_id, unit, today=today)
    assert detail.follow_ups == FollowUps(done=1, open=waiting)
    status = _status(runtime, cycle_id)
    row = next(u for u in status.units if u.id == unit)
    assert row.follow_ups == FollowUps(done=1, open=waiting) and status.follow_ups == row.follow_ups
    assert status_csv(status).splitlines()[0].endswith(",follow_ups_done,follow_ups_open")
    # Tasks outside the steps are named, in every language, not by their key.
    follow_up = next(t for t in detail.open_tasks if t.step_key == "follow_up")
    assert follow_up.task_name == LocalizedName(
        nb="Oppfølging av utviklingsplanen",
        nn="Oppfølging av utviklingsplanen",
        en="Follow-up of the development plan",
    )
    record = next(f for f in detail.submitted if f.form_key == "talk_record")
    assert record.task_name.nb == "6. Mål- og utviklingssamtaler – Referat fra samtalen"
    assert record.task_name.nn == "6. Mål- og utviklingssamtalar – Referat frå samtalen"
    # A late follow-up is on the late list (with its name) and keeps its unit under "late only".
    runtime.clock.advance(days=15)  # type: ignore[attr-defined]
    late = _status(runtime, cycle_id, BoardFilters(late_only=True))
    late_follow_ups = [t for t in late.late if t.step_key == "follow_up"]
    assert len(late_follow_ups) == waiting and unit in {u.id for u in late.units}
    assert late_follow_ups[0].task_name.en == "Follow-up of the development plan"
    one_step = _status(runtime, cycle_id, BoardFilters(step="talks"))
    assert not [t for t in one_step.late if t.step_key == "follow_up"]


def test_the_json_answer_is_the_models_json_and_lists_the_first_late_tasks(
    runtime: Runtime, cycle_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The document is built from its models without validating them again: it must validate against
    them (every value of its declared type), the API's bytes must be the model's JSON, with every filter,
    and the list must hold the same first late tasks however few are read."""
    hel, hr = unit_id(runtime, "HEL"), unit_id(runtime, "HR")
    drive_unit(runtime, cycle_id, hel, "talk_preparation")
    follow_up_task(runtime, cycle_id, hr)  # 60 days on: late steps, escalations, a follow-up
    runtime.clock.advance(days=15)  # type: ignore[attr-defined]
    sweep(runtime, advance=False)
    with runtime.sessions.begin() as session:
        first = session.scalar(select(Notification.id).order_by(Notification.id).limit(1))
        session.execute(
            update(Notification)
            .where(Notification.id == first)
            .values(state=NotificationState.FAILED.value, attempts=2, last_error="550 æøå")
        )
    today = runtime.clock().astimezone(runtime.settings.zone).date()
    filters = [
        None,
        BoardFilters(late_only=True),
        BoardFilters(step="talks"),
        BoardFilters(unit_id=hel, late_only=True),
        BoardFilters(unit_id=hr, step="strategy_review"),
    ]
    with runtime.sessions() as session, warnings.catch_warnings():
        warnings.simplefilter("error")  # a value not of its field's type warns while it is serialised
        for narrowed in filters:
            model = cycle_status(session, cycle_id, narrowed, today=today)
            assert cycle_status_json(session, cycle_id, narrowed, today=today) == model.model_dump_json().encode()
            assert CycleStatus.model_validate_json(model.model_dump_json()) == model
            assert CycleStatus.model_validate(model.model_dump()).model_dump_json() == model.model_dump_json()
        everything = cycle_status(session, cycle_id, today=today)
        assert everything.failed_emails and everything.units[0].cells[0].counts is None
        assert any(t.step_key == "follow_up" for t in everything.late) and everything.late_total > 5
        assert any(c.counts and c.counts.total for u in everything.units for c in u.cells)
        monkeypatch.setattr(board, "LATE_LIST_LIMIT", 5)
        few = cycle_status(session, cycle_id, today=today)
    assert few.late == everything.late[:5] and few.late_total == everything.late_total


def test_the_drill_down_shows_what_a_form_points_at_by_its_title_with_one_query_per_kind(
    runtime: Runtime, cycle_id: int
) -> None:
    hel = unit_id(runtime, "HEL")
    drive_unit(runtime, cycle_id, hel, "measure_approval")
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        with runtime.sessions() as session:
            detail = unit_detail(session, cycle_id, hel, today=dt.date(2027, 1, 4))
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    refs = {(form.form_key, field.key): field for form in detail.submitted for field in form.fields if field.ref}
    with runtime.sessions() as session:
        main_goals = {g.id: f"{g.code} {g.title}" for g in session.scalars(select(StrategicGoal))}
        unit_goals = {g.id: g.title for g in session.scalars(select(UnitGoal))}
        needs = {n.id: n.title for n in session.scalars(select(CriticalNeed))}
    expected = {
        ("strategy_review", "goals 1.strategic_goal_id"): ("main_goal", main_goals),
        ("unit_goals", "goals 2.strategic_goal_id"): ("main_goal", main_goals),
        ("action_plan", "actions 1.unit_goal_id"): ("unit_goal", unit_goals),
        ("needs_mapping", "needs 1.unit_goal_id"): ("unit_goal", unit_goals),
        ("measure_proposal", "measures 1.critical_need_id"): ("critical_need", needs),
    }
    for key, (kind, titles) in expected.items():
        field = refs[key]
        assert field.ref == kind and field.ref_id is not None and field.value == titles[field.ref_id], key
    assert refs[("unit_goals", "goals 1.strategic_goal_id")].value.startswith("SM1 ")
    assert refs[("unit_goals", "goals 1.strategic_goal_id")].label[-1] == "Strategic main goal it serves"
    for table in ("strategic_goal", "unit_goal", "critical_need"):
        assert sum(f"FROM {table} " in s or s.endswith(f"FROM {table}") for s in statements) == 1, table
