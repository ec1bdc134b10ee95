"""The web face of a form, read from the model's JSON Schema: which inputs, in which order, and how
a posted HTML form becomes the same data the JSON API takes.

Lists work without JavaScript: a list shows its rows and a few empty ones, an "add row" button
posts the form back for one more, and a row left empty is dropped (so clearing a row removes it).
Lists with one row per earlier item (one per main goal, say) show exactly those rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from forms.fields import MAX_ITEMS, MAX_TITLE, FormModel, FormRules
from forms.messages import CHOICE_LABELS

BLANK_ROWS = 2  #: empty rows shown under a list's filled rows
WIDE_ROW = 6  #: rows with more inputs than this get a single empty row


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str  #: message id
    hint: str  #: message id, or ""
    widget: str  #: text, textarea, number, date, select, checkbox, hidden
    required: bool
    ref: str | None = None  #: kind of earlier item the value points at
    options: tuple[str, ...] = ()  #: enum values
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    period: str | None = None  #: "date" or "year": limited to the strategy period
    not_before: str | None = None  #: "today": a date that must not have passed
    section: str | None = None  #: message id of the heading a run of fields is grouped under


@dataclass(frozen=True)
class ListSpec:
    name: str
    label: str
    hint: str
    fields: tuple[FieldSpec, ...]
    min_items: int
    max_items: int
    fixed_kind: str | None = None  #: one row per valid item of this kind
    fixed_key: str | None = None  #: the row field that names that item

    @property
    def content_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.widget != "hidden" and f.name != self.fixed_key)


Part = FieldSpec | ListSpec


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """Follow a $ref and unwrap ``X | None``, keeping the outer title, description and default."""
    merged = dict(node)
    if "anyOf" in merged:
        branches = [b for b in merged.pop("anyOf") if b.get("type") != "null"]
        merged = {**branches[0], **merged} if branches else merged
    if "$ref" in merged:
        name = merged.pop("$ref").rsplit("/", 1)[-1]
        merged = {**schema["$defs"][name], **merged}
    return merged


def _field(schema: Mapping[str, Any], name: str, raw: Mapping[str, Any], required: bool) -> FieldSpec:
    node = _resolve(schema, raw)
    kind = node.get("x-ref")
    widget = node.get("x-widget")
    if widget is None:
        if kind is not None or "enum" in node:
            widget = "select"
        elif node.get("type") == "boolean":
            widget = "checkbox"
        elif node.get("type") == "integer":
            widget = "number"
        elif node.get("format") == "date":
            widget = "date"
        elif node.get("format") == "time":
            widget = "time"
        else:
            widget = "textarea" if node.get("maxLength", 0) > MAX_TITLE else "text"
    return FieldSpec(
        name=name,
        label=str(raw.get("title", node.get("title", name))),
        hint=str(raw.get("description", "")),
        widget=str(widget),
        required=required,
        ref=kind,
        options=tuple(node.get("enum", ())) if kind is None else (),
        minimum=node.get("minimum"),
        maximum=node.get("maximum"),
        max_length=node.get("maxLength"),
        period=node.get("x-period"),
        not_before=node.get("x-not-before"),
        section=raw.get("x-section"),
    )


@cache
def layout_of(cls: type[FormModel]) -> tuple[Part, ...]:
    schema = cls.model_json_schema()
    parts: list[Part] = []
    required = set(schema.get("required", ()))
    for name, raw in schema["properties"].items():
        if raw.get("type") == "array" and "$ref" in raw.get("items", {}):
            row = _resolve(schema, raw["items"])
            row_required = set(row.get("required", ()))
            parts.append(
                ListSpec(
                    name=name,
                    label=str(raw.get("title", name)),
                    hint=str(raw.get("description", "")),
                    fields=tuple(_field(schema, n, r, n in row_required) for n, r in row["properties"].items()),
                    min_items=int(raw.get("minItems", 0)),
                    max_items=int(raw.get("maxItems", MAX_ITEMS)),
                    fixed_kind=raw.get("x-rows"),
                    fixed_key=raw.get("x-row-key"),
                )
            )
        else:
            parts.append(_field(schema, name, raw, name in required))
    return tuple(parts)


# --- from a posted HTML form to data -------------------------------------------------------------


def parse_form(cls: type[FormModel], form: Mapping[str, str]) -> dict[str, Any]:
    """The posted fields as the model's data: empty inputs are left out (so a required one is
    reported missing), unticked boxes are False, and empty rows of a free list are dropped."""
    data: dict[str, Any] = {}
    for part in layout_of(cls):
        if isinstance(part, ListSpec):
            data[part.name] = _parse_rows(part, form)
        elif part.widget == "checkbox":
            data[part.name] = form.get(part.name, "") not in ("", "false", "0")
        else:
            value = form.get(part.name, "")
            if value.strip() != "":
                data[part.name] = value
    return data


_ROW_INDEX = re.compile(r"[0-9]{1,4}")


def _parse_rows(part: ListSpec, form: Mapping[str, str]) -> list[dict[str, Any]]:
    prefix = part.name + "."
    # A row index is a few ASCII digits; str.isdigit also takes "²" and "٣", which int() refuses or reads.
    indices = sorted(
        {int(k.split(".")[1]) for k in form if k.startswith(prefix) and _ROW_INDEX.fullmatch(k.split(".")[1])}
    )
    rows = []
    for index in indices[: MAX_ITEMS * 2]:
        row = {}
        for spec in part.fields:
            value = form.get(f"{part.name}.{index}.{spec.name}", "")
            if value.strip() != "":
                row[spec.name] = value
        blank = all(spec.name not in row for spec in part.content_fields)
        if blank and part.fixed_kind is None:
            continue
        rows.append(row)
    return rows


# --- from data and errors to what the template shows ---------------------------------------------


@dataclass
class OptionView:
    value: str
    label: str
    selected: bool


@dataclass
class FieldView:
    name: str
    id: str
    label: str
    hint: str
    widget: str
    required: bool
    value: str
    display: str  #: the value as read in a receipt
    options: list[OptionView] = field(default_factory=list)
    error: str | None = None
    minimum: int | str | None = None  #: a number, or a date as YYYY-MM-DD
    maximum: int | str | None = None
    section: str = ""  #: the heading of the group the field belongs to (translated), or ""
    section_start: bool = False  #: the first field of its group: the group opens here
    section_end: bool = False  #: the last field of its group: the group closes here

    @property
    def hint_id(self) -> str:
        return self.id + "-hint"

    @property
    def error_id(self) -> str:
        return self.id + "-error"

    @property
    def describedby(self) -> str:
        ids = [self.hint_id] if self.hint else []
        if self.error:
            ids.append(self.error_id)
        return " ".join(ids)


@dataclass
class RowView:
    index: int
    heading: str
    fields: list[FieldView]
    hidden: list[FieldView]
    error: str | None = None


@dataclass
class ListView:
    name: str
    id: str
    label: str
    hint: str
    rows: list[RowView]
    can_add: bool
    error: str | None = None


@dataclass
class SummaryItem:
    href: str
    text: str


@dataclass
class FormView:
    parts: list[FieldView | ListView]
    summary: list[SummaryItem]


def html_id(path: str) -> str:
    return "f-" + path.replace(".", "-")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Show:
    """How a view speaks: the translation, dates as the reader writes them, the task's rules."""

    tr: Callable[[str], str]
    date: Callable[[str], str] | None = None
    rules: FormRules | None = None


def _limits(spec: FieldSpec, rules: FormRules | None) -> tuple[int | str | None, int | str | None]:
    """The input's min and max: the model's, or for dates and years the strategy period's."""
    if rules is not None and spec.period == "date":
        first, last = rules.date_range(spec.not_before)
        return first.isoformat(), last.isoformat()
    if rules is not None and spec.period == "year":
        return rules.first_year, rules.last_year
    return spec.minimum, spec.maximum


def _field_view(
    spec: FieldSpec,
    path: str,
    value: Any,
    errors: Mapping[str, str],
    choices: Mapping[str, list[tuple[int, str]]],
    show: Show,
) -> FieldView:
    tr = show.tr
    text = _text(value)
    options: list[OptionView] = []
    display = text
    if spec.widget == "select":
        pairs = (
            [(str(i), label) for i, label in choices.get(spec.ref, [])]
            if spec.ref is not None
            else [(v, tr(CHOICE_LABELS.get(v, v))) for v in spec.options]
        )
        options = [OptionView(v, label, v == text) for v, label in pairs]
        display = next((o.label for o in options if o.selected), text)
    elif spec.widget == "checkbox":
        display = tr("Yes") if value in (True, "true", "on") else tr("No")
    elif spec.widget == "date" and show.date is not None and text:
        try:
            display = show.date(text)
        except ValueError:
            display = text
    elif spec.widget == "time" and len(text) >= 5:
        text = display = text[:5]  # HH:MM, as the time input shows and takes it
    minimum, maximum = _limits(spec, show.rules)
    return FieldView(
        name=path,
        id=html_id(path),
        label=tr(spec.label),
        hint=tr(spec.hint) if spec.hint else "",
        widget=spec.widget,
        required=spec.required,
        value=text,
        display=display,
        options=options,
        error=errors.get(path),
        minimum=minimum,
        maximum=maximum,
        section=tr(spec.section) if spec.section else "",
    )


def build_view(
    cls: type[FormModel],
    data: Mapping[str, Any],
    errors: Mapping[str, str],
    choices: Mapping[str, list[tuple[int, str]]],
    tr: Callable[[str], str],
    extra_rows: Mapping[str, int] | None = None,
    editable: bool = True,
    *,
    date: Callable[[str], str] | None = None,
    rules: FormRules | None = None,
) -> FormView:
    """Every input with its value and its error; ``errors`` is keyed by dotted path ("goals.0.title").

    ``date`` formats a date for reading (a receipt); ``rules`` gives date and year inputs the
    task's limits (the strategy period) as min and max."""
    show = Show(tr, date, rules)
    parts: list[FieldView | ListView] = []
    placed: set[str] = set()
    summary: list[SummaryItem] = []
    for spec in layout_of(cls):
        if isinstance(spec, FieldSpec):
            view = _field_view(spec, spec.name, data.get(spec.name), errors, choices, show)
            parts.append(view)
            if view.error:
                placed.add(spec.name)
                summary.append(SummaryItem("#" + view.id, f"{view.label}: {view.error}"))
            continue
        raw_rows = data.get(spec.name)
        rows_data: list[Any] = list(raw_rows) if isinstance(raw_rows, list) else []
        headings: list[str] = []
        if spec.fixed_kind is not None and spec.fixed_key is not None:
            key = spec.fixed_key
            by_key = {_text(r.get(key)): r for r in rows_data if isinstance(r, dict)}
            fixed = choices.get(spec.fixed_kind, [])
            rows_data = [{**by_key.get(str(i), {}), key: i} for i, _label in fixed]
            headings = [label for _i, label in fixed]
        elif editable:
            # A wide row (a measure has a dozen fields) gets one empty row; a narrow one a few.
            wide = len(spec.content_fields) > WIDE_ROW
            blanks = (1 if wide else BLANK_ROWS + (0 if rows_data else 1)) + (extra_rows or {}).get(spec.name, 0)
            rows_data += [{} for _ in range(max(0, min(blanks, spec.max_items - len(rows_data))))]
        rows = []
        for index, row in enumerate(rows_data):
            row = row if isinstance(row, dict) else {}
            fields = [
                _field_view(f, f"{spec.name}.{index}.{f.name}", row.get(f.name), errors, choices, show)
                for f in spec.fields
            ]
            heading = headings[index] if index < len(headings) else tr("Row {number}").format(number=index + 1)
            row_path = f"{spec.name}.{index}"
            row_view = RowView(
                index=index,
                heading=heading,
                fields=[f for f in fields if f.widget != "hidden" and f.name != f"{row_path}.{spec.fixed_key}"],
                hidden=[f for f in fields if f.widget == "hidden" or f.name == f"{row_path}.{spec.fixed_key}"],
                error=errors.get(row_path),
            )
            if row_view.error:
                placed.add(row_path)
                summary.append(SummaryItem(f"#{html_id(row_path)}", f"{heading}: {row_view.error}"))
            for f in fields:
                if f.error:
                    placed.add(f.name)
                    target = f if f in row_view.fields else None
                    href = "#" + (target.id if target else html_id(row_path))
                    summary.append(SummaryItem(href, f"{heading}, {f.label}: {f.error}"))
                    if target is None:
                        row_view.error = row_view.error or f.error
            rows.append(row_view)
        list_view = ListView(
            name=spec.name,
            id=html_id(spec.name),
            label=tr(spec.label),
            hint=tr(spec.hint) if spec.hint else "",
            rows=rows,
            can_add=editable and spec.fixed_kind is None and len(rows) < spec.max_items,
            error=errors.get(spec.name),
        )
        if list_view.error:
            placed.add(spec.name)
            summary.insert(0, SummaryItem("#" + list_view.id, f"{list_view.label}: {list_view.error}"))
        parts.append(list_view)
    for path, message in errors.items():
        if path not in placed:
            summary.append(SummaryItem("#form", message))
    _mark_sections(parts)
    return FormView(parts=parts, summary=summary)


def _mark_sections(parts: list[FieldView | ListView]) -> None:
    """Where each run of fields with the same section heading opens and closes."""
    for index, part in enumerate(parts):
        if not isinstance(part, FieldView) or not part.section:
            continue
        before = parts[index - 1] if index > 0 else None
        after = parts[index + 1] if index + 1 < len(parts) else None
        part.section_start = not (isinstance(before, FieldView) and before.section == part.section)
        part.section_end = not (isinstance(after, FieldView) and after.section == part.section)
