"""The competence picture: the catalogue's file, the mastery scale and the aggregates people see.

Self-assessments and participants' answers are personal data. What anyone but the person sees of
them is an aggregate, counts per answer and never names, and an aggregate of fewer than
``MIN_GROUP_SIZE`` people is not shown at all: in a group of four, counts would let a leader work out
who answered what. Plain Python: no storage code.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import yaml

from aarshjul.domain.enums import CompetenceType
from aarshjul.domain.errors import ImportProblem

#: The fewest people an aggregate of their answers is shown for.
MIN_GROUP_SIZE = 5

_Answer = TypeVar("_Answer", bound=StrEnum)


@dataclass(frozen=True)
class Tally:
    """How many people gave each answer of a scale, in the scale's order; nothing when too few answered."""

    respondents: int
    counts: tuple[tuple[str, int], ...]  #: (answer, count) for every answer of the scale; empty when hidden

    @property
    def hidden(self) -> bool:
        return self.respondents < MIN_GROUP_SIZE


def tally(scale: type[_Answer], answers: Sequence[_Answer | str], respondents: int | None = None) -> Tally:
    """Counts per answer of ``scale`` over ``answers`` (one per person), hidden below the minimum group.

    ``respondents`` is the size of the group the answers come from, when some people left a question
    unanswered: the group, not the answers, decides whether the counts may be shown."""
    group = len(answers) if respondents is None else respondents
    if group < MIN_GROUP_SIZE:
        return Tally(group, ())
    counted = Counter(scale(a) for a in answers)
    return Tally(group, tuple((member.value, counted.get(member, 0)) for member in scale))


def shuffled_texts(texts: Iterable[str], respondents: int) -> list[str]:
    """Free-text answers for an aggregate: none below the minimum group, else sorted so their order
    says nothing about who wrote them or when."""
    if respondents < MIN_GROUP_SIZE:
        return []
    return sorted({t.strip() for t in texts if t and t.strip()}, key=lambda t: (t.casefold(), t))


# --- the catalogue's file -----------------------------------------------------------------------

CSV_COLUMNS = ("area", "code", "name", "kind", "description")
REQUIRED_COLUMNS = ("area", "code", "name", "kind")
MAX_NAME = 300


@dataclass(frozen=True)
class CompetenceRow:
    area: str  #: the code of a competence area of the strategy
    code: str
    name: str
    kind: CompetenceType
    description: str
    where: str  #: "line 4" or "competences[2]"


def read_catalogue_file(path: Path) -> tuple[CompetenceRow, ...]:
    """A catalogue file (CSV or YAML) checked whole; every problem names the file and the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportProblem([f"{path.name}: cannot read the file: {exc}"]) from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        return parse_catalogue_yaml(text, path.name)
    return parse_catalogue_csv(text, path.name)


def parse_catalogue_csv(text: str, source: str) -> tuple[CompetenceRow, ...]:
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportProblem([f"{source} line 1: missing column(s): {', '.join(missing)}"])
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ImportProblem([f"{source} line 1: unknown column(s): {', '.join(unknown)}"])
    rows: list[tuple[Mapping[str, str], str]] = []
    for index, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if any(row.values()):
            rows.append((row, f"line {index}"))
    return _checked(rows, source)


def parse_catalogue_yaml(text: str, source: str) -> tuple[CompetenceRow, ...]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportProblem([f"{source}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("competences"), list):
        raise ImportProblem([f"{source}: expected a mapping with a list 'competences'"])
    rows: list[tuple[Mapping[str, str], str]] = []
    problems: list[str] = []
    for index, raw in enumerate(data["competences"]):
        where = f"competences[{index}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{source} {where}: expected a mapping")
            continue
        extra = sorted(str(k) for k in raw if k not in CSV_COLUMNS)
        if extra:
            problems.append(f"{source} {where}: unknown field(s): {', '.join(extra)}")
            continue
        rows.append(({str(k): "" if v is None else str(v).strip() for k, v in raw.items()}, where))
    if problems:
        raise ImportProblem(problems)
    return _checked(rows, source)


def _checked(rows: Iterable[tuple[Mapping[str, str], str]], source: str) -> tuple[CompetenceRow, ...]:
    problems: list[str] = []
    found: list[CompetenceRow] = []
    seen: dict[str, str] = {}
    for row, where in rows:
        before = len(problems)
        for column in REQUIRED_COLUMNS:
            if not row.get(column):
                problems.append(f"{source} {where}: {column} is empty")
        code, name = row.get("code", ""), row.get("name", "")
        if len(name) > MAX_NAME:
            problems.append(f"{source} {where}: name is longer than {MAX_NAME} characters")
        kind_text = row.get("kind", "").lower()
        try:
            kind = CompetenceType(kind_text)
        except ValueError:
            if kind_text:
                kinds = ", ".join(k.value for k in CompetenceType)
                problems.append(f'{source} {where}: unknown kind "{row.get("kind")}" (use {kinds})')
            kind = CompetenceType.FORMAL
        if code and code in seen:
            problems.append(f'{source} {where}: duplicate code "{code}" (also on {seen[code]})')
        elif code:
            seen[code] = where
        if len(problems) == before:
            found.append(CompetenceRow(row["area"], code, name, kind, row.get("description", ""), where))
    if not found and not problems:
        problems.append(f"{source}: the file lists no competences")
    if problems:
        raise ImportProblem(problems)
    return tuple(found)


def unknown_areas(rows: Iterable[CompetenceRow], area_codes: Iterable[str], source: str) -> list[str]:
    """Problems for rows naming an area the strategy does not have: the catalogue's areas are the
    strategy's competence areas."""
    known = set(area_codes)
    listed = ", ".join(sorted(known)) or "none loaded"
    return [
        f'{source} {row.where}: unknown competence area "{row.area}" (the strategy has: {listed})'
        for row in rows
        if row.area not in known
    ]
