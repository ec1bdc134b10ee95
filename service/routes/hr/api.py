"""HR's JSON API: cycles, the status board, HR actions, the audit log (the competence plan's is in
``plan_api``).

Every route needs an HR session (with ``X-CSRF-Token`` on writes) or ``Authorization: Bearer``
(``aarshjul hr token``). Routes parse the request into a model (a body is one of HR's commands in
service/commands.py, the same model HR's HTML form of the command is parsed into; the query and path
are typed and bounded by service/queries.py and service/params.py), call one use case and answer with
a documented response model; domain errors become 404/409/422 in service/app.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aarshjul.domain.errors import InvalidInput
from aarshjul.domain.planning import CostLine
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import ApiTokenInfo, api_tokens, revoke_api_token_by_id
from aarshjul.usecases.admin.reminders import remind_late
from aarshjul.usecases.admin.task_admin import extend_deadline, reassign_tasks
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.start import CyclePreview, clone_last_year, preview_cycle, start_cycle
from aarshjul.usecases.planning.proposals import MeasureProposal, measure_proposals
from aarshjul.usecases.reporting import board_model
from aarshjul.usecases.reporting import cycles as cycle_reports
from aarshjul.usecases.reporting.audit_log import AuditPage, audit_log
from aarshjul.usecases.reporting.board import cycle_status, cycle_status_json
from aarshjul.usecases.reporting.board_model import CycleStatus
from aarshjul.usecases.reporting.competences import (
    CompetenceCatalogue,
    CompetencePicture,
    competence_catalogue,
    competence_roll_up,
)
from aarshjul.usecases.reporting.cycles import CycleSummary
from aarshjul.usecases.reporting.unit_detail import UnitDetail, unit_detail
from aarshjul.usecases.work import measure_decision
from forms.registry import FormRejected
from service.api_errors import HR_ERRORS
from service.auth import ApiHr, HrAccess
from service.commands import (
    CloneLastYear,
    CloseCycle,
    ExtendDeadline,
    MeasureDecision,
    Reassign,
    RemindLate,
    StartCycle,
    lines,
)
from service.deps import RuntimeDep, SessionDep
from service.params import IdPath
from service.queries import AuditQuery, CatalogueQuery, MeasuresQuery, StatusCsvQuery, StatusFilters
from service.routes.hr.common import today_of

router = APIRouter(prefix="/api", tags=["hr"], responses=HR_ERRORS)

CSV_MEDIA = "text/csv; charset=utf-8"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CycleStarted(BaseModel):
    id: int
    year: int
    status_url: str


class Changed(BaseModel):
    changed: int


class Me(BaseModel):
    person_id: int
    email: str
    name: str
    via: str


def download(content: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/openapi.json", include_in_schema=False)
def openapi_document(request: Request, _access: ApiHr) -> JSONResponse:
    """The API's OpenAPI document, for HR only: it describes what HR can do, not a public API."""
    return JSONResponse(request.app.openapi())


@router.get("/hr/me", response_model=Me)
def me(access: ApiHr) -> Me:
    p = access.principal
    return Me(person_id=p.person_id, email=p.email, name=p.name, via=p.via)


@router.get("/cycles", response_model=list[CycleSummary])
def list_cycles(access: ApiHr, session: SessionDep) -> list[CycleSummary]:
    return cycle_reports.list_cycles(session)


@router.post("/cycles", response_model=CycleStarted, status_code=201)
def start(body: StartCycle, access: ApiHr, runtime: RuntimeDep) -> CycleStarted:
    cycle_id = start_cycle(
        runtime, body.year, starts_on=body.starts_on, step_due=body.step_due, actor=access.principal.actor
    )
    return CycleStarted(id=cycle_id, year=body.year, status_url=f"/api/cycles/{cycle_id}/status")


@router.post("/cycles/preview", response_model=CyclePreview)
def preview(body: StartCycle, access: ApiHr, runtime: RuntimeDep) -> CyclePreview:
    return preview_cycle(runtime, body.year, starts_on=body.starts_on, step_due=body.step_due)


@router.post("/cycles/clone", response_model=CycleStarted, status_code=201)
def clone(body: CloneLastYear, access: ApiHr, runtime: RuntimeDep, session: SessionDep) -> CycleStarted:
    cycle_id = clone_last_year(runtime, actor=access.principal.actor, starts_on=body.starts_on)
    year = next(c.year for c in cycle_reports.list_cycles(session) if c.id == cycle_id)
    return CycleStarted(id=cycle_id, year=year, status_url=f"/api/cycles/{cycle_id}/status")


@router.get("/cycles/{cycle_id}/status", response_model=CycleStatus)
def status(
    cycle_id: IdPath,
    access: ApiHr,
    runtime: RuntimeDep,
    session: SessionDep,
    query: Annotated[StatusFilters, Query()],
) -> Response:
    # The bytes straight from the serialiser, not re-validated on the way out (bench/board.py).
    document = cycle_status_json(session, cycle_id, query.filters(), today=today_of(runtime))
    return Response(document, media_type="application/json")


@router.get(
    "/cycles/{cycle_id}/status.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per unit, state and counts per step"}},
)
def status_csv(
    cycle_id: IdPath,
    access: ApiHr,
    runtime: RuntimeDep,
    session: SessionDep,
    query: Annotated[StatusCsvQuery, Query()],
) -> Response:
    result = cycle_status(session, cycle_id, query.filters(), today=today_of(runtime))
    language = query.lang or runtime.settings.default_language
    return download(board_model.status_csv(result, language), CSV_MEDIA, f"aarshjul-{result.cycle.year}-status.csv")


@router.get("/cycles/{cycle_id}/units/{unit_id}", response_model=UnitDetail)
def unit(cycle_id: IdPath, unit_id: IdPath, access: ApiHr, runtime: RuntimeDep, session: SessionDep) -> UnitDetail:
    return unit_detail(session, cycle_id, unit_id, today=today_of(runtime))


@router.post("/cycles/{cycle_id}/close", status_code=204)
def close(cycle_id: IdPath, body: CloseCycle, access: ApiHr, runtime: RuntimeDep) -> Response:
    close_cycle(runtime, cycle_id, actor=access.principal.actor, force=body.force)
    return Response(status_code=204)


@router.post("/cycles/{cycle_id}/deadlines", response_model=Changed)
def extend(cycle_id: IdPath, body: ExtendDeadline, access: ApiHr, runtime: RuntimeDep) -> Changed:
    changed = extend_deadline(
        runtime,
        new_due=body.new_due,
        actor=access.principal.actor,
        task_ids=body.task_ids,
        unit_id=body.unit_id,
        step_key=body.step_key,
        cycle_id=cycle_id,
    )
    return Changed(changed=changed)


@router.post("/cycles/{cycle_id}/reassignments", response_model=Changed)
def reassign(cycle_id: IdPath, body: Reassign, access: ApiHr, runtime: RuntimeDep) -> Changed:
    assignee: int | str = body.assignee_id if body.assignee_id is not None else (body.assignee_email or "")
    moved = reassign_tasks(runtime, body.task_ids, assignee, actor=access.principal.actor, cycle_id=cycle_id)
    return Changed(changed=moved)


@router.post("/cycles/{cycle_id}/reminders", response_model=Changed)
def remind(cycle_id: IdPath, body: RemindLate, access: ApiHr, runtime: RuntimeDep) -> Changed:
    return Changed(changed=remind_late(runtime, cycle_id, body.step_key, actor=access.principal.actor))


@router.get("/measures", response_model=list[MeasureProposal])
def measures(
    access: ApiHr,
    session: SessionDep,
    query: Annotated[MeasuresQuery, Query()],
) -> list[MeasureProposal]:
    return measure_proposals(session, query.cycle_id, (query.state,))


@router.post("/measures/{measure_id}/decision", status_code=204)
def decide(measure_id: IdPath, body: MeasureDecision, access: ApiHr, runtime: RuntimeDep) -> Response:
    decide_measure(runtime, measure_id, body.decision, body.comment, access, lines(body.costs))
    return Response(status_code=204)


@router.get("/competences", response_model=CompetenceCatalogue)
def competences(access: ApiHr, session: SessionDep, query: Annotated[CatalogueQuery, Query()]) -> CompetenceCatalogue:
    """The competence catalogue: the strategy's competence areas, each with its competences."""
    return competence_catalogue(session, query.period_id, include_retired=query.include_retired)


@router.get("/cycles/{cycle_id}/competences", response_model=CompetencePicture)
def competence_picture(cycle_id: IdPath, access: ApiHr, session: SessionDep) -> CompetencePicture:
    """The cycle's competence picture across units, by competence: self-assessed mastery as counts
    per level (none below the minimum group size), critical needs and shared competence not in use."""
    return competence_roll_up(session, cycle_id)


@router.get("/tokens", response_model=list[ApiTokenInfo])
def tokens(access: ApiHr, session: SessionDep) -> list[ApiTokenInfo]:
    """Every API token (never its value), newest first."""
    return api_tokens(session)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses={404: {"description": "No such token"}, 409: {"description": "Revoked already"}},
)
def revoke_token(token_id: IdPath, access: ApiHr, runtime: RuntimeDep) -> Response:
    """Revoke an API token: every later call with it is refused (401)."""
    revoke_api_token_by_id(runtime, token_id, actor=access.principal.actor)
    return Response(status_code=204)


@router.get("/audit", response_model=AuditPage)
def audit(
    access: ApiHr,
    session: SessionDep,
    query: Annotated[AuditQuery, Query()],
) -> AuditPage:
    return audit_log(session, limit=query.limit, offset=query.offset, action=query.action)


def decide_measure(
    runtime: Runtime,
    measure_id: int,
    decision: str,
    comment: str,
    access: HrAccess,
    costs: list[CostLine] | None = None,
) -> None:
    """HR's decision on a proposal, through the forms area's use case (it owns the measure's life)."""
    try:
        measure_decision.decide_measure(runtime, measure_id, decision, comment, access.principal.person_id, costs)
    except FormRejected as exc:
        first = exc.problems[0] if exc.problems else None
        field = ".".join(str(part) for part in first.loc) if first and first.loc else "decision"
        raise InvalidInput(field, first.type if first else "rejected") from exc
