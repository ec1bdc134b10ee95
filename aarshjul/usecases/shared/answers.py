"""Submitted forms as labelled lines, for the people who read them afterwards (HR's drill-down, the
competence plan): each line carries the form's field titles, not its keys, and a reference to an
earlier item (a strategic main goal, a unit goal, a critical need, a measure, a competence area)
shows that item's title, not its id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo
from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import CompetenceArea, CriticalNeed, Measure, StrategicGoal, UnitGoal
from forms.fields import HIDDEN, RefKind, SchemaMark


class FormField(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    value: str
    label: list[str] = Field(
        default_factory=list,
        description="The field's title and the titles above it (English message ids), and item numbers",
    )
    coded: bool = Field(default=False, description="The value is a code from a fixed list (a message id)")
    ref: str | None = Field(
        default=None,
        description="For a reference to an earlier item: its kind (main_goal, unit_goal, critical_need, measure, "
        "competence_area); the value is then the item's title",
    )
    ref_id: int | None = Field(default=None, description="For a reference: the id of the item")


def _ref_kind(annotation: Any, metadata: Iterable[Any] = ()) -> str | None:
    """The kind of item a field points at (``MainGoalRef``, ``NeedRef | None``, ...), if any."""
    for mark in metadata:
        if isinstance(mark, SchemaMark) and mark.key == "x-ref":
            return mark.value
    if get_origin(annotation) is Annotated:
        inner, *marks = get_args(annotation)
        return _ref_kind(inner, marks)
    for argument in get_args(annotation):
        kind = _ref_kind(argument)
        if kind is not None:
            return kind
    return None


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The form model inside a field's type (``list[Item]``, ``Item | None``), and whether the
    field holds a code from a fixed list (an enum)."""
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return annotation, False
        return None, issubclass(annotation, StrEnum)
    for argument in get_args(annotation):
        model, coded = _inner_model(argument)
        if model is not None or coded:
            return model, coded
    return None, False


def flatten(
    data: Any,
    model: type[BaseModel] | None = None,
    prefix: str = "",
    label: tuple[str, ...] = (),
    coded: bool = False,
    ref: str | None = None,
) -> list[FormField]:
    """A submitted form as label/value lines, nested lists and objects spelled out; each line
    labelled with the form's field titles, so HR reads "Critical needs 1 › Level needed", not a key.
    References keep their id as the value here; ``name_references`` gives them their titles."""
    fields: list[FormField] = []
    if isinstance(data, dict):
        for key, value in data.items():
            info: FieldInfo | None = model.model_fields.get(key) if model is not None else None
            if info is not None and info.json_schema_extra == HIDDEN:
                continue
            inner, inner_coded = _inner_model(info.annotation) if info is not None else (None, False)
            inner_ref = _ref_kind(info.annotation, info.metadata) if info is not None else None
            title = info.title if info is not None and info.title else str(key)
            path = f"{prefix}.{key}" if prefix else str(key)
            fields += flatten(value, inner, path, (*label, title), inner_coded, inner_ref)
    elif isinstance(data, list):
        for index, value in enumerate(data, start=1):
            key = f"{prefix} {index}" if prefix else str(index)
            fields += flatten(value, model, key, (*label, str(index)), coded, ref)
    elif data is not None and data != "":
        ref_id = data if ref is not None and isinstance(data, int) and not isinstance(data, bool) else None
        fields.append(
            FormField(
                key=prefix,
                value=str(data),
                label=list(label),
                coded=coded,
                ref=ref if ref_id is not None else None,
                ref_id=ref_id,
            )
        )
    return fields


def name_references(session: Session, forms: list[list[FormField]]) -> list[list[FormField]]:
    """The forms' lines with every reference's value replaced by the title of the item it points
    at: one query per kind of item, whatever the number of forms and fields. A reference to an item
    that no longer exists keeps its id."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for fields in forms:
        for field in fields:
            if field.ref is not None and field.ref_id is not None:
                wanted[field.ref].add(field.ref_id)
    titles = {kind: _titles(session, kind, ids) for kind, ids in wanted.items()}
    return [
        [
            field.model_copy(update={"value": titles[field.ref][field.ref_id]})
            if field.ref is not None and field.ref_id is not None and field.ref_id in titles[field.ref]
            else field
            for field in fields
        ]
        for fields in forms
    ]


def _titles(session: Session, kind: str, ids: set[int]) -> dict[int, str]:
    if kind == RefKind.MAIN_GOAL:
        # As the form offered it: code and title ("SM1 Bærekraftig drift").
        return {
            i: f"{code} {title}"
            for i, code, title in session.execute(
                select(StrategicGoal.id, StrategicGoal.code, StrategicGoal.title).where(StrategicGoal.id.in_(ids))
            )
        }
    columns = {
        RefKind.UNIT_GOAL: (UnitGoal.id, UnitGoal.title),
        RefKind.CRITICAL_NEED: (CriticalNeed.id, CriticalNeed.title),
        RefKind.MEASURE: (Measure.id, Measure.title),
        RefKind.COMPETENCE_AREA: (CompetenceArea.id, CompetenceArea.name),
    }.get(kind)
    if columns is None:
        return {}
    key, title = columns
    return {i: t for i, t in session.execute(select(key, title).where(key.in_(ids)))}
