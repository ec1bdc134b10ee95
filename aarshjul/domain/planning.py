"""The competence plan as a municipality governs it: money, versions and their rules.

Money is ``Decimal`` in whole øre (two decimals), never a float: a plan's totals are added up
exactly and shown as NOK. A measure's cost is a list of lines (year, kind, amount, funding); the
plan's totals group them by competence area, by unit, by year and by whether they are funded.

A plan version goes draft → in consultation → adopted (``PlanVersionState``); the rules of that
walk are here, the storage and the snapshots in aarshjul/usecases/planning/.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from aarshjul.domain.enums import CostKind, FundingSource, PlanVersionState
from aarshjul.domain.errors import Conflict, InvalidInput

ØRE = Decimal("0.01")
ZERO = Decimal("0.00")
#: The largest amount one cost line holds: what a NUMERIC(12, 2) column stores.
MAX_AMOUNT = Decimal("9999999999.99")
MAX_SCHEME_CHARS = 200
MAX_COST_LINES = 100

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def nok(value: Decimal | int | str) -> Decimal:
    """An amount rounded to whole øre."""
    return Decimal(value).quantize(ØRE, rounding=ROUND_HALF_UP)


def parse_amount(text: str) -> Decimal:
    """An amount as people write it in Norway or in English: ``12 500,50``, ``12500.50``, ``kr 900``,
    ``1 000 000``. Raises ValueError for anything else (also NaN and infinity)."""
    cleaned = _SPACES.sub("", text.strip().lower().removeprefix("kr").removesuffix("kr").removesuffix(",-"))
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    elif "," in cleaned and "." in cleaned and cleaned.rfind(",") < cleaned.rfind("."):
        cleaned = cleaned.replace(",", "")  # 12,500.50: commas group thousands
    if not _NUMBER.match(cleaned):
        raise ValueError(f"not an amount: {text!r}")
    try:
        return Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc


@dataclass(frozen=True)
class CostLine:
    """One estimated cost of a measure: in one year, of one kind, paid from one source."""

    year: int
    kind: CostKind
    amount: Decimal
    funding: FundingSource
    scheme: str = ""  #: the grant scheme's name, when funding is GRANT

    @property
    def funded(self) -> bool:
        return self.funding is not FundingSource.UNFUNDED


def checked_costs(lines: Sequence[CostLine], first_year: int, last_year: int, field: str = "costs") -> list[CostLine]:
    """The lines as they are stored: amounts in whole øre, schemes tidied, zero lines left out.
    Raises InvalidInput naming ``field`` when a line falls outside the measure's years, an amount is
    negative or too large, a grant names no scheme, or two lines say the same thing."""
    if len(lines) > MAX_COST_LINES:
        raise InvalidInput(field, f"at most {MAX_COST_LINES} cost lines")
    kept: list[CostLine] = []
    seen: set[tuple[int, CostKind, FundingSource, str]] = set()
    for line in lines:
        scheme = " ".join(line.scheme.split())
        if not first_year <= line.year <= last_year:
            raise InvalidInput(field, f"a cost's year must be within the measure's years ({first_year}–{last_year})")
        if not line.amount.is_finite() or line.amount < 0 or nok(line.amount) > MAX_AMOUNT:
            raise InvalidInput(field, f"an amount is from 0 to {MAX_AMOUNT} NOK")
        if line.funding is FundingSource.GRANT and not scheme:
            raise InvalidInput(field, "name the grant scheme (for example Kompetanseløftet)")
        if len(scheme) > MAX_SCHEME_CHARS:
            raise InvalidInput(field, f"a grant scheme's name has at most {MAX_SCHEME_CHARS} characters")
        if line.funding is not FundingSource.GRANT:
            scheme = ""
        key = (line.year, line.kind, line.funding, scheme.lower())
        if key in seen:
            raise InvalidInput(field, "each year, kind and funding source once per measure: add the amounts up")
        seen.add(key)
        if nok(line.amount) == ZERO:
            continue
        kept.append(CostLine(line.year, line.kind, nok(line.amount), line.funding, scheme))
    return sorted(kept, key=lambda c: (c.year, list(CostKind).index(c.kind), c.funding, c.scheme))


def yearly_costs(
    years: Iterable[int], amounts: dict[CostKind, Decimal], funding: FundingSource, scheme: str
) -> list[CostLine]:
    """The lines of a yearly estimate by kind, the same every year the measure runs (what the unit
    leader's proposal gives; HR can adjust each line when approving)."""
    return [
        CostLine(year, kind, amount, funding, scheme)
        for year in years
        for kind, amount in amounts.items()
        if amount and amount > 0
    ]


def merged_costs(lines: Iterable[CostLine]) -> list[CostLine]:
    """Lines from several measures added up by year, kind and funding (merging proposals)."""
    sums: dict[tuple[int, CostKind, FundingSource, str], Decimal] = {}
    for line in lines:
        key = (line.year, line.kind, line.funding, line.scheme)
        sums[key] = sums.get(key, ZERO) + line.amount
    return [CostLine(y, k, nok(a), f, s) for (y, k, f, s), a in sums.items()]


@dataclass(frozen=True)
class Sums:
    """Money added up: all of it, and the part with a funding source."""

    total: Decimal = ZERO
    funded: Decimal = ZERO

    @property
    def unfunded(self) -> Decimal:
        return self.total - self.funded

    def plus(self, line: CostLine) -> Sums:
        return Sums(self.total + line.amount, self.funded + (line.amount if line.funded else ZERO))


K = TypeVar("K", bound=Hashable)


def sums_by(items: Iterable[tuple[K, CostLine]]) -> dict[K, Sums]:
    """Lines added up per key, in the order the keys first appear."""
    found: dict[K, Sums] = {}
    for key, line in items:
        found[key] = found.get(key, Sums()).plus(line)
    return found


def total_of(lines: Iterable[CostLine]) -> Sums:
    result = Sums()
    for line in lines:
        result = result.plus(line)
    return result


# --- versions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionFacts:
    """What the rules of a version's next step look at."""

    state: PlanVersionState
    consultation_recorded: bool
    measures_without_area: Sequence[str]  #: titles of plan measures that belong to no competence area


def check_start_consultation(facts: VersionFacts | None) -> None:
    """The live plan goes to consultation. ``None``: no version is stored yet (the first draft)."""
    if facts is None or facts.state is PlanVersionState.DRAFT:
        return
    if facts.state is PlanVersionState.IN_CONSULTATION:
        raise Conflict("the plan is in consultation already")
    raise Conflict("an adopted version cannot change; later changes make a new draft")


def check_record_consultation(facts: VersionFacts) -> None:
    if facts.state is PlanVersionState.ADOPTED:
        raise Conflict("an adopted version cannot change; later changes make a new draft")
    if facts.state is not PlanVersionState.IN_CONSULTATION:
        raise Conflict("send the plan to consultation first")


def check_adoption(facts: VersionFacts) -> None:
    """No adoption without the consultation on record, and every measure in a competence area."""
    if facts.state is PlanVersionState.ADOPTED:
        raise Conflict("this version is adopted already; later changes make a new draft")
    if facts.state is not PlanVersionState.IN_CONSULTATION or not facts.consultation_recorded:
        raise Conflict("the plan is adopted only after the consultation with the union representatives is recorded")
    if facts.measures_without_area:
        raise Conflict(
            "every measure of the plan must belong to a competence area before adoption: "
            + "; ".join(f"«{t}»" for t in facts.measures_without_area)
        )


def content_hash(content: Any, default: Callable[[Any], Any] = str) -> str:
    """The SHA-256 of a document's canonical JSON: what a frozen version is checked against."""
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=default)
    return hashlib.sha256(text.encode()).hexdigest()
