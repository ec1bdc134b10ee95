"""Year after year: last year's answers to a form as a starting point for this year's, and what changed.

Last year's answers point at last year's rows (its unit goals, its needs), so they are fitted to this
year's choices: a reference keeps its item when this year offers the same one (a main goal, a
competence), or the item of the same name (a unit goal carried over with the same title); otherwise
it is left empty for the person to choose. Ids of rows are left out (this year's rows are new), the
time of a talk is left out (a new talk needs a new time), and dates and years move on by the years
between the cycles. Plain functions over the form's layout: no storage code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forms.fields import FormModel
from forms.layout import FieldSpec, ListSpec, layout_of
from forms.models import TALK_TIME_FIELDS

Choices = Mapping[str, list[tuple[int, str]]]

#: Fields never carried over: they are about this year's occasion, not the content.
NOT_CARRIED = frozenset(TALK_TIME_FIELDS)


def _name_key(label: str) -> str:
    """A label as names are matched: without a leading priority ("2. "), case and spacing."""
    return " ".join(re.sub(r"^\d+\.\s+", "", label).casefold().split())


@dataclass(frozen=True)
class _Fit:
    old: Choices
    new: Choices
    years: int

    def ref(self, kind: str, value: Any) -> int | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        new = self.new.get(kind, [])
        if any(i == value for i, _ in new):
            return value
        label = dict(self.old.get(kind, [])).get(value)
        if label is None:
            return None
        wanted = _name_key(label)
        return next((i for i, name in new if _name_key(name) == wanted), None)

    def value(self, spec: FieldSpec, value: Any) -> Any:
        if spec.widget == "checkboxes" and spec.ref is not None:
            fitted = [self.ref(spec.ref, v) for v in value] if isinstance(value, list) else []
            return [v for v in fitted if v is not None]
        if spec.ref is not None:
            return self.ref(spec.ref, value)
        if spec.period == "date" and isinstance(value, str):
            try:
                return _years_on(dt.date.fromisoformat(value), self.years).isoformat()
            except ValueError:
                return None
        if spec.period == "year" and isinstance(value, int):
            return value + self.years
        return value


def _years_on(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _fit_row(fields: tuple[FieldSpec, ...], row: Mapping[str, Any], fit: _Fit) -> dict[str, Any]:
    fitted: dict[str, Any] = {}
    for spec in fields:
        if spec.widget == "hidden" or spec.name in NOT_CARRIED or spec.name not in row:
            continue
        value = fit.value(spec, row[spec.name])
        if value is not None and value != []:
            fitted[spec.name] = value
    return fitted


def starting_point(
    cls: type[FormModel], data: Mapping[str, Any], old: Choices, new: Choices, years: int
) -> dict[str, Any]:
    """Last year's answers ``data`` fitted to this year's choices ``new`` (``old`` are last year's)."""
    fit = _Fit(old, new, years)
    result: dict[str, Any] = {}
    for part in layout_of(cls):
        if isinstance(part, ListSpec):
            rows = [r for r in data.get(part.name, []) if isinstance(r, dict)]
            fitted = [_fit_row(part.fields, r, fit) for r in rows]
            if part.fixed_key is not None:
                # A row of a fixed list names its item; one whose item is not offered this year is dropped.
                fitted = [r for r in fitted if part.fixed_key in r]
            result[part.name] = [r for r in fitted if r]
        elif part.widget != "hidden" and part.name not in NOT_CARRIED and part.name in data:
            value = fit.value(part, data[part.name])
            if value is not None:
                result[part.name] = value
    return result


# --- what changed -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    kind: str  #: added, removed or changed
    list_label: str
    row: str
    field_label: str
    before: str
    after: str
    coded: bool = False


def _shown(spec: FieldSpec, value: Any, labels: Mapping[str, Mapping[int, str]]) -> str:
    if value is None or value == "" or value == []:
        return ""
    if spec.widget == "checkboxes" and spec.ref is not None and isinstance(value, list):
        return ", ".join(sorted(labels.get(spec.ref, {}).get(v, str(v)) for v in value))
    if spec.ref is not None:
        return labels.get(spec.ref, {}).get(value, str(value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _coded(spec: FieldSpec) -> bool:
    return bool(spec.options) or spec.widget == "checkbox"


def _identity(part: ListSpec, row: Mapping[str, Any], labels: Mapping[str, Mapping[int, str]]) -> str:
    """How a reader knows a row: its fixed item, else its first written field (a goal's title)."""
    if part.fixed_key is not None:
        spec = next(f for f in part.fields if f.name == part.fixed_key)
        return _shown(spec, row.get(part.fixed_key), labels)
    for spec in part.fields:
        if spec.widget in ("text", "textarea") and row.get(spec.name):
            return str(row[spec.name]).strip()
    return ""


def differences(
    cls: type[FormModel], before: Mapping[str, Any], after: Mapping[str, Any], choices: Choices
) -> list[Difference]:
    """This year's answers ``after`` against last year's fitted ``before``: rows added and removed
    (matched by what identifies them), and each field that changed."""
    labels = {kind: dict(pairs) for kind, pairs in choices.items()}
    found: list[Difference] = []
    for part in layout_of(cls):
        if isinstance(part, FieldSpec):
            if part.widget == "hidden" or part.name in NOT_CARRIED:
                continue
            old, new = _shown(part, before.get(part.name), labels), _shown(part, after.get(part.name), labels)
            if old != new:
                found.append(Difference("changed", "", "", part.label, old, new, _coded(part)))
            continue
        old_rows = {_identity(part, r, labels): r for r in before.get(part.name, []) if isinstance(r, dict)}
        new_rows = {_identity(part, r, labels): r for r in after.get(part.name, []) if isinstance(r, dict)}
        for name in sorted(old_rows.keys() - new_rows.keys()):
            found.append(Difference("removed", part.label, name, "", "", ""))
        for name in sorted(new_rows.keys() - old_rows.keys()):
            found.append(Difference("added", part.label, name, "", "", ""))
        for name in sorted(old_rows.keys() & new_rows.keys()):
            for spec in part.fields:
                if spec.widget == "hidden" or spec.name == part.fixed_key:
                    continue
                old = _shown(spec, old_rows[name].get(spec.name), labels)
                new = _shown(spec, new_rows[name].get(spec.name), labels)
                if old != new:
                    found.append(Difference("changed", part.label, name, spec.label, old, new, _coded(spec)))
    # Rows removed and added first, then the changed fields, each in the form's order.
    order = {"removed": 0, "added": 1, "changed": 2}
    return sorted(found, key=lambda d: order[d.kind])
