"""What HR's pages and API read from the address: one model per page or operation, every value typed
and bounded (``service.params``). Unknown parameters (``lang``, say) are left to others."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from aarshjul.domain.enums import Language
from aarshjul.usecases.reporting.board_model import BoardFilters
from service.params import (
    ActionPrefix,
    Flag,
    Id,
    OptionalAction,
    OptionalId,
    OptionalKey,
    OptionalNotice,
    OptionalVersion,
    OptionalYear,
    Year,
)

# --- pages --------------------------------------------------------------------------------------


class BoardQuery(BaseModel):
    """/board: the cycle (default: the latest) and the filters, as the filter form sends them."""

    cycle: OptionalId = None
    unit: OptionalId = None
    step: OptionalKey = None
    late: Flag = False
    notice: OptionalNotice = None

    def filters(self) -> BoardFilters:
        return BoardFilters(unit_id=self.unit, step=self.step, late_only=self.late)


class CycleQuery(BaseModel):
    """/board/wheel.svg"""

    cycle: OptionalId = None


class UnitQuery(BaseModel):
    """/board/units/{unit_id}: ``task`` names the task whose link was just revoked."""

    cycle: OptionalId = None
    notice: OptionalNotice = None
    task: OptionalId = None


class NoticeQuery(BaseModel):
    notice: OptionalNotice = None


class PlanPageQuery(BaseModel):
    needs_year: OptionalYear = None
    version: OptionalVersion = None
    notice: OptionalNotice = None


class PlanStatusPageQuery(BaseModel):
    year: OptionalYear = None


class MergeQuery(BaseModel):
    """/plan/merge?measure_id=1&measure_id=2: the proposals HR ticked to merge."""

    measure_id: list[Id] = Field(default_factory=list, max_length=200)


class AuditPageQuery(BaseModel):
    offset: int = Field(default=0, ge=0, le=10**9)
    action: OptionalAction = None


# --- the API ------------------------------------------------------------------------------------


class StatusFilters(BaseModel):
    unit_id: OptionalId = Field(default=None, description="Only this unit and the units below it")
    step: OptionalKey = Field(default=None, description="Only this step (its key)")
    late_only: bool = Field(default=False, description="Only units with late tasks")

    def filters(self) -> BoardFilters:
        return BoardFilters(unit_id=self.unit_id, step=self.step, late_only=self.late_only)


class StatusCsvQuery(StatusFilters):
    lang: Language | None = Field(default=None, description="The step names' language; default: the organisation's")


class MeasuresQuery(BaseModel):
    cycle_id: Id | None = None
    state: Literal["proposed", "approved", "returned", "evaluated"] = "proposed"


class PlanQuery(BaseModel):
    period_id: Id | None = None
    needs_year: OptionalYear = Field(default=None, description="Cycle year of the needs roll-up")
    version: OptionalVersion = Field(default=None, description="A version's number; default: the working version")
    format: Literal["json", "pdf"] = Field(default="json", description="pdf: the plan as a document (application/pdf)")
    lang: Language | None = Field(default=None, description="The language of the PDF; default: the organisation's")


class PlanStatusQuery(BaseModel):
    year: Year = Field(description="A year of the strategy period")
    period_id: Id | None = None
    format: Literal["json", "csv", "xlsx", "pdf"] = "json"
    lang: Language | None = Field(default=None, description="The language of the PDF; default: the organisation's")


class PeriodQuery(BaseModel):
    period_id: Id | None = None


class CatalogueQuery(PeriodQuery):
    include_retired: bool = Field(default=False, description="Also competences dropped from the catalogue file")


class AuditQuery(BaseModel):
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)
    action: ActionPrefix | None = Field(default=None, description="Prefix, e.g. 'cycle.'")
