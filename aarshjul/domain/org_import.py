"""Reading and checking organisation and strategy files. Plain Python: no storage code.

A file is checked whole before anything is written; every problem names the file, the line (CSV)
or record (YAML) and what is wrong, so HR can fix the file and import again.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aarshjul.domain.addresses import is_deliverable
from aarshjul.domain.enums import Language, Role
from aarshjul.domain.errors import ImportProblem
from aarshjul.domain.phones import NotAMobileNumber, normalise_mobile

CSV_COLUMNS = (
    "employee_no",
    "name",
    "email",
    "unit",
    "unit_name",
    "parent_unit",
    "role",
    "language",
    "deputy",
    "mobile",
)
REQUIRED_CSV_COLUMNS = ("name", "email", "unit", "role")


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    parent: str | None
    where: str  #: "line 4" or "units[2]"


@dataclass(frozen=True)
class PersonRow:
    employee_no: str | None
    name: str
    email: str
    unit: str
    role: Role
    #: None when the file says nothing: the organisation's default language (its settings) applies.
    language: Language | None
    deputy_email: str | None
    active_from: dt.date | None
    where: str
    mobile: str | None = None  #: E.164


@dataclass(frozen=True)
class OrgDocument:
    organisation: str | None
    units: tuple[UnitRow, ...]
    people: tuple[PersonRow, ...]

    def leader_of(self, unit_code: str) -> PersonRow | None:
        for person in self.people:
            if person.unit == unit_code and person.role is Role.LEADER:
                return person
        return None


@dataclass(frozen=True)
class GoalRow:
    code: str
    title: str
    description: str


@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    main_goal: str


@dataclass(frozen=True)
class StrategyDocument:
    name: str
    first_year: int
    last_year: int
    goals: tuple[GoalRow, ...]
    areas: tuple[AreaRow, ...]


# --- organisation ------------------------------------------------------------------------------


def read_org_file(path: Path) -> OrgDocument:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportProblem([f"{path.name}: cannot read the file: {exc}"]) from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        return parse_org_yaml(text, path.name)
    return parse_org_csv(text, path.name)


def parse_org_csv(text: str, source: str) -> OrgDocument:
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
    if missing:
        raise ImportProblem([f"{source} line 1: missing column(s): {', '.join(missing)}"])
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ImportProblem([f"{source} line 1: unknown column(s): {', '.join(unknown)}"])
    problems: list[str] = []
    units: dict[str, UnitRow] = {}
    people: list[PersonRow] = []
    for index, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"line {index}"
        if not any(row.values()):
            continue
        unit_code = row.get("unit", "")
        unit_name = row.get("unit_name", "")
        if unit_code and unit_name:
            parent = row.get("parent_unit") or None
            known = units.get(unit_code)
            if known is None:
                units[unit_code] = UnitRow(unit_code, unit_name, parent, where)
            elif (known.name, known.parent) != (unit_name, parent):
                problems.append(f'{source} {where}: unit "{unit_code}" is described differently than on {known.where}')
        person = _person(row, where, source, problems)
        if person is not None:
            people.append(person)
    if problems:
        raise ImportProblem(problems)
    document = OrgDocument(None, tuple(units.values()), tuple(people))
    check_org(document, source)
    return document


def parse_org_yaml(text: str, source: str) -> OrgDocument:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportProblem([f"{source}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, Mapping):
        raise ImportProblem([f"{source}: expected a mapping with 'units' and 'people'"])
    problems: list[str] = []
    units: list[UnitRow] = []
    for index, raw in enumerate(_records(data.get("units"), "units", source, problems)):
        where = f"units[{index}]"
        code, name = str(raw.get("code") or "").strip(), str(raw.get("name") or "").strip()
        if not code or not name:
            problems.append(f"{source} {where}: a unit needs both code and name")
            continue
        parent = raw.get("parent")
        units.append(UnitRow(code, name, str(parent).strip() if parent else None, where))
    people: list[PersonRow] = []
    for index, raw in enumerate(_records(data.get("people"), "people", source, problems)):
        row = {k: "" if v is None else str(v).strip() for k, v in raw.items()}
        person = _person(row, f"people[{index}]", source, problems)
        if person is not None:
            people.append(person)
    if problems:
        raise ImportProblem(problems)
    organisation = data.get("organisation")
    document = OrgDocument(str(organisation) if organisation else None, tuple(units), tuple(people))
    check_org(document, source)
    return document


def _records(value: Any, key: str, source: str, problems: list[str]) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list):
        problems.append(f"{source}: '{key}' must be a list")
        return []
    good = []
    for index, item in enumerate(value):
        if isinstance(item, Mapping):
            good.append(item)
        else:
            problems.append(f"{source} {key}[{index}]: expected a mapping")
    return good


def _person(row: Mapping[str, str], where: str, source: str, problems: list[str]) -> PersonRow | None:
    name, email, unit = row.get("name", ""), row.get("email", "").lower(), row.get("unit", "")
    before = len(problems)
    if not name:
        problems.append(f"{source} {where}: name is empty")
    if not is_deliverable(email):
        problems.append(f'{source} {where}: malformed email "{row.get("email", "")}"')
    if not unit:
        problems.append(f"{source} {where}: unit is empty")
    role_text = row.get("role", "").lower()
    try:
        role = Role(role_text)
    except ValueError:
        problems.append(f'{source} {where}: unknown role "{row.get("role", "")}" (use hr, leader or employee)')
        role = Role.EMPLOYEE
    language_text = (row.get("language") or "").strip().lower()
    language: Language | None = None
    if language_text:
        try:
            language = Language(language_text)
        except ValueError:
            problems.append(
                f'{source} {where}: unknown language "{language_text}" (use {", ".join(Language)} or leave it empty)'
            )
    active_from = None
    if row.get("active_from"):
        try:
            active_from = dt.date.fromisoformat(row["active_from"])
        except ValueError:
            problems.append(f'{source} {where}: active_from "{row["active_from"]}" is not a date (YYYY-MM-DD)')
    deputy = (row.get("deputy") or "").lower() or None
    if deputy is not None and not is_deliverable(deputy):
        problems.append(f'{source} {where}: malformed deputy email "{row.get("deputy")}"')
    mobile = None
    if row.get("mobile"):
        try:
            mobile = normalise_mobile(row["mobile"])
        except NotAMobileNumber as exc:
            problems.append(f"{source} {where}: mobile {exc}")
    if len(problems) > before:
        return None
    return PersonRow(
        employee_no=row.get("employee_no") or None,
        name=name,
        email=email,
        unit=unit,
        role=role,
        language=language,
        deputy_email=deputy,
        active_from=active_from,
        where=where,
        mobile=mobile,
    )


def check_org(document: OrgDocument, source: str) -> None:
    """Raise ImportProblem listing every inconsistency in the document."""
    problems: list[str] = []
    units = {u.code: u for u in document.units}
    for unit in document.units:
        if unit.parent is not None and unit.parent not in units:
            problems.append(f'{source} {unit.where}: unit "{unit.code}" has unknown parent unit "{unit.parent}"')
    reported: set[str] = set()
    for unit in document.units:
        path = [unit.code]
        current = unit.parent
        while current is not None and current in units:
            if current in path:
                loop = path[path.index(current) :] + [current]
                if not reported.intersection(loop):
                    problems.append(f"{source} {unit.where}: the unit tree has a cycle: {' -> '.join(loop)}")
                    reported.update(loop)
                break
            path.append(current)
            current = units[current].parent
    roots = [u for u in document.units if u.parent is None]
    if document.units and not roots and not reported:
        problems.append(f"{source}: the unit tree has no top unit (one unit must have no parent)")
    seen_email: dict[str, str] = {}
    seen_number: dict[str, str] = {}
    leaders: dict[str, PersonRow] = {}
    for person in document.people:
        if person.email in seen_email:
            problems.append(
                f'{source} {person.where}: duplicate email "{person.email}" (also on {seen_email[person.email]})'
            )
        else:
            seen_email[person.email] = person.where
        if person.employee_no:
            if person.employee_no in seen_number:
                problems.append(
                    f'{source} {person.where}: duplicate employee number "{person.employee_no}" '
                    f"(also on {seen_number[person.employee_no]})"
                )
            else:
                seen_number[person.employee_no] = person.where
        if person.unit not in units:
            problems.append(f'{source} {person.where}: person "{person.email}" is in unknown unit "{person.unit}"')
        if person.role is Role.LEADER:
            if person.unit in leaders:
                problems.append(
                    f'{source} {person.where}: unit "{person.unit}" has two leaders '
                    f'("{leaders[person.unit].email}" and "{person.email}")'
                )
            else:
                leaders[person.unit] = person
    for person in document.people:
        if person.deputy_email is not None and person.deputy_email not in seen_email:
            problems.append(f'{source} {person.where}: deputy "{person.deputy_email}" is not in the file')
        if person.deputy_email == person.email:
            problems.append(f"{source} {person.where}: a person cannot be their own deputy")
    for unit in document.units:
        if unit.code not in leaders:
            problems.append(
                f'{source} {unit.where}: unit "{unit.code}" has no leader (give one person role leader in it)'
            )
    if not any(p.role is Role.HR for p in document.people):
        problems.append(f"{source}: nobody has role hr; the cycle needs an HR person")
    if problems:
        raise ImportProblem(problems)


# --- strategy ---------------------------------------------------------------------------------


def read_strategy_file(path: Path) -> StrategyDocument:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportProblem([f"{path.name}: cannot read the file: {exc}"]) from exc
    return parse_strategy_yaml(text, path.name)


def parse_strategy_yaml(text: str, source: str) -> StrategyDocument:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportProblem([f"{source}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("period"), Mapping):
        raise ImportProblem([f"{source}: expected a mapping with 'period', 'strategic_goals' and 'competence_areas'"])
    problems: list[str] = []
    period = data["period"]
    years: list[int] = []
    for key in ("first_year", "last_year"):
        value = period.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 2000 <= value <= 2100:
            problems.append(f"{source} period: {key} must be a year between 2000 and 2100, got {value!r}")
        else:
            years.append(value)
    if len(years) == 2:
        first, last = years
        if first > last:
            problems.append(f"{source} period: the year range {first}–{last} is reversed (first_year after last_year)")
        elif last - first > 10:
            problems.append(f"{source} period: the year range {first}–{last} is longer than ten years")
    name = str(period.get("name") or "").strip()
    if not name and len(years) == 2:
        name = f"Strategiperiode {years[0]}–{years[1]}"
    goals: list[GoalRow] = []
    codes: set[str] = set()
    for index, raw in enumerate(_records(data.get("strategic_goals"), "strategic_goals", source, problems)):
        where = f"strategic_goals[{index}]"
        code, title = str(raw.get("code") or "").strip(), str(raw.get("title") or "").strip()
        if not code or not title:
            problems.append(f"{source} {where}: a strategic goal needs code and title")
            continue
        if code in codes:
            problems.append(f'{source} {where}: duplicate code "{code}"')
        codes.add(code)
        goals.append(GoalRow(code, title, str(raw.get("description") or "").strip()))
    areas: list[AreaRow] = []
    area_codes: set[str] = set()
    for index, raw in enumerate(_records(data.get("competence_areas"), "competence_areas", source, problems)):
        where = f"competence_areas[{index}]"
        code, area_name = str(raw.get("code") or "").strip(), str(raw.get("name") or "").strip()
        main_goal = str(raw.get("main_goal") or "").strip()
        if not code or not area_name or not main_goal:
            problems.append(f"{source} {where}: a competence area needs code, name and main_goal")
            continue
        if code in area_codes:
            problems.append(f'{source} {where}: duplicate code "{code}"')
        area_codes.add(code)
        areas.append(AreaRow(code, area_name, main_goal))
    if not goals and "strategic_goals" in data and isinstance(data.get("strategic_goals"), list):
        problems.append(f"{source} strategic_goals: give at least one strategic main goal")
    if problems:
        raise ImportProblem(problems)
    return StrategyDocument(name, years[0], years[1], tuple(goals), tuple(areas))
