"""``unvalidated``: the same instance ``model_construct`` makes, without its cost, and no other."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from aarshjul.usecases.reporting.board_model import CellState, Counts, FollowUps, UnitCell, UnitRow
from aarshjul.usecases.shared.documents import unvalidated

DAY = dt.date(2027, 3, 1)


def test_it_builds_what_validation_builds_from_the_same_values() -> None:
    make_cell, make_counts = unvalidated(UnitCell), unvalidated(Counts)
    built = make_cell(
        step_key="talks", state=CellState.OPEN, due_on=DAY, counts=make_counts(done=1, total=3), late_tasks=2
    )
    validated = UnitCell(
        step_key="talks", state=CellState.OPEN, due_on=DAY, counts=Counts(done=1, total=3), late_tasks=2
    )
    assert built == validated and built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set == set(UnitCell.model_fields)
    assert UnitCell.model_validate_json(built.model_dump_json()) == built
    with pytest.raises(Exception, match="frozen"):
        built.late_tasks = 3  # type: ignore[misc]


def test_a_field_left_out_gets_its_default_and_an_unknown_one_is_refused() -> None:
    row = unvalidated(UnitRow)(id=1, code="HR", name="HR", parent_id=None, depth=0, cells=[])
    assert row.follow_ups is None and row.model_dump()["follow_ups"] is None
    with pytest.raises(TypeError, match="stepkey"):
        unvalidated(FollowUps)(done=1, open=2, stepkey="x")  # type: ignore[call-arg]


def test_models_it_cannot_build_faithfully_are_refused() -> None:
    class WithPrivate(BaseModel):
        value: int = 0
        _cache: dict[str, int] = PrivateAttr(default_factory=dict)

    class WithExtra(BaseModel):
        model_config = ConfigDict(extra="allow")
        value: int = Field(default=0)

    for model in (WithPrivate, WithExtra):
        with pytest.raises(TypeError):
            unvalidated(model)
