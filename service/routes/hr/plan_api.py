"""The competence plan in HR's JSON API: the plan (a version of it, or as PDF), its versions, the
consultation and adoption, HR's organisation-wide measures and merges, placing and pricing a measure,
and the yearly status (JSON, CSV, XLSX, PDF). Bodies are the commands of service/commands.py, the
same models the HTML forms are parsed into."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from aarshjul.domain.errors import InvalidInput
from aarshjul.usecases.planning import exports as plan_exports
from aarshjul.usecases.planning import measures as plan_measures
from aarshjul.usecases.planning import versions as plan_versions
from aarshjul.usecases.planning.plan import PlanVersionInfo, organisation_name
from aarshjul.usecases.planning.review import PlanWithComments, plan_with_comments
from aarshjul.usecases.planning.status import YearlyStatus, yearly_status
from service.api_errors import HR_ERRORS
from service.auth import ApiHr
from service.commands import AdoptPlan, PlaceMeasure, PlanMeasure, RecordConsultation, lines
from service.deps import RuntimeDep, SessionDep
from service.params import IdPath, VersionPath
from service.queries import PeriodQuery, PlanQuery, PlanStatusQuery
from service.routes.hr.api import CSV_MEDIA, XLSX_MEDIA, download
from service.routes.hr.common import today_of
from service.routes.hr.documents import PDF_MEDIA, pdf_answer, plan_pdf, status_pdf
from service.routes.hr.plan_measures import measure_input
from service.routes.hr.plan_versions import adoption_of, meeting_of

router = APIRouter(prefix="/api", tags=["plan"], responses=HR_ERRORS)

UNAVAILABLE_RESPONSE: dict[str, Any] = {
    "description": "PDF documents cannot be made on this server (WeasyPrint's system libraries are missing)"
}
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {PDF_MEDIA: {}}, "description": "The plan, or as a PDF document with format=pdf"},
    503: UNAVAILABLE_RESPONSE,
}


class VersionStarted(BaseModel):
    number: int


class Adopted(BaseModel):
    number: int
    sha256: str


class Created(BaseModel):
    id: int


@router.get("/plan", response_model=PlanWithComments, responses=PDF_RESPONSE)
def competence_plan(
    request: Request,
    access: ApiHr,
    runtime: RuntimeDep,
    session: SessionDep,
    query: Annotated[PlanQuery, Query()],
) -> PlanWithComments | Response:
    """The plan with its ``version`` and ``totals`` (NOK with two decimals, as strings); by default the
    working version, ``version=N`` one of them (an adopted version as frozen)."""
    plan = plan_with_comments(session, query.period_id, query.needs_year, query.version)
    if query.format == "pdf":
        name = f"kompetanseplan-{plan.period.first_year}-{plan.period.last_year}-v{plan.version.number}.pdf"
        organisation = organisation_name(session)
        language = query.lang or runtime.settings.default_language
        return pdf_answer(request, language, lambda: plan_pdf(runtime, plan, organisation, language), name)
    return plan


@router.get("/plan/versions", response_model=list[PlanVersionInfo])
def versions(access: ApiHr, session: SessionDep, query: Annotated[PeriodQuery, Query()]) -> list[PlanVersionInfo]:
    """Every version of the plan, newest first; the working draft first when it is not stored yet."""
    return plan_versions.versions(session, query.period_id)


@router.post("/plan/versions", response_model=VersionStarted, status_code=201)
def start_consultation(access: ApiHr, runtime: RuntimeDep) -> VersionStarted:
    """The working draft goes to consultation with the union representatives."""
    return VersionStarted(number=plan_versions.start_consultation(runtime, access.principal.actor))


@router.put("/plan/versions/{number}/consultation", status_code=204)
def record_consultation(number: VersionPath, body: RecordConsultation, access: ApiHr, runtime: RuntimeDep) -> Response:
    """Record (or correct) the consultation meeting; a minutes PDF sent before is kept."""
    plan_versions.record_consultation(runtime, number, meeting_of(body, None, ""), access.principal.actor)
    return Response(status_code=204)


@router.put(
    "/plan/versions/{number}/consultation/minutes.pdf",
    status_code=204,
    openapi_extra={
        "requestBody": {"required": True, "content": {PDF_MEDIA: {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def put_minutes(number: VersionPath, request: Request, access: ApiHr, runtime: RuntimeDep) -> Response:
    """The minutes as a PDF (the body, ``Content-Type: application/pdf``), for a meeting already recorded."""
    if request.headers.get("content-type", "").split(";")[0].strip() != PDF_MEDIA:
        raise InvalidInput("minutes_pdf", "send the minutes with Content-Type: application/pdf")
    content = await request.body()
    with runtime.sessions() as session:
        current = plan_versions.plan_document(session).version
    consultation = current.consultation
    if current.number != number or consultation is None:
        raise InvalidInput("minutes_pdf", "record the consultation meeting first")
    meeting = plan_versions.ConsultationMeeting(
        meeting_on=consultation.meeting_on,
        participants=[plan_versions.Participant(p.name, p.union, p.role) for p in consultation.participants],
        statements=[plan_versions.Statement(s.union, s.position, s.comment) for s in consultation.statements],
        minutes_text=consultation.minutes_text,
        minutes_pdf=content,
        minutes_filename=f"protokoll-v{number}.pdf",
    )
    plan_versions.record_consultation(runtime, number, meeting, access.principal.actor)
    return Response(status_code=204)


@router.get(
    "/plan/versions/{number}/consultation/minutes.pdf",
    response_class=Response,
    responses={200: {"content": {PDF_MEDIA: {}}}},
)
def get_minutes(number: VersionPath, access: ApiHr, session: SessionDep) -> Response:
    filename, content = plan_versions.minutes_pdf(session, number)
    return download(content, PDF_MEDIA, filename)


@router.post("/plan/versions/{number}/adoption", response_model=Adopted)
def adopt(number: VersionPath, body: AdoptPlan, access: ApiHr, runtime: RuntimeDep) -> Adopted:
    """Adopt a version in consultation: it is frozen, and later changes make the next draft."""
    sha = plan_versions.adopt(runtime, number, adoption_of(body), access.principal.actor)
    return Adopted(number=number, sha256=sha)


@router.post("/plan/measures", response_model=Created, status_code=201)
def create_measure(body: PlanMeasure, access: ApiHr, runtime: RuntimeDep) -> Created:
    """An organisation-wide measure; with ``merge_ids`` it replaces those units' proposals."""
    return Created(id=plan_measures.create_plan_measure(runtime, measure_input(body), access.principal.person_id))


@router.put("/plan/measures/{measure_id}", status_code=204)
def edit_measure(measure_id: IdPath, body: PlanMeasure, access: ApiHr, runtime: RuntimeDep) -> Response:
    plan_measures.edit_plan_measure(runtime, measure_id, measure_input(body), access.principal.person_id)
    return Response(status_code=204)


@router.put("/plan/measures/{measure_id}/placement", status_code=204)
def place_measure(measure_id: IdPath, body: PlaceMeasure, access: ApiHr, runtime: RuntimeDep) -> Response:
    """Competence areas (main first) and, if given, the cost lines of a measure in the plan."""
    plan_measures.place_measure(runtime, measure_id, body.area_ids, lines(body.costs), access.principal.person_id)
    return Response(status_code=204)


@router.get(
    "/plan/status",
    response_model=YearlyStatus,
    responses={200: {"content": {CSV_MEDIA: {}, XLSX_MEDIA: {}, PDF_MEDIA: {}}}, 503: UNAVAILABLE_RESPONSE},
)
def status(
    request: Request,
    access: ApiHr,
    runtime: RuntimeDep,
    session: SessionDep,
    query: Annotated[PlanStatusQuery, Query()],
) -> YearlyStatus | Response:
    """For each measure running in the year: planned, started, done, its evaluation, money planned and spent."""
    result = yearly_status(session, query.year, today_of(runtime), query.period_id)
    name = f"kompetanseplan-status-{query.year}"
    if query.format == "csv":
        return download(plan_exports.status_csv(result), CSV_MEDIA, f"{name}.csv")
    if query.format == "xlsx":
        return download(plan_exports.status_xlsx(result), XLSX_MEDIA, f"{name}.xlsx")
    if query.format == "pdf":
        organisation = organisation_name(session)
        language = query.lang or runtime.settings.default_language
        make = lambda: status_pdf(runtime, result, organisation, language)  # noqa: E731
        return pdf_answer(request, language, make, f"{name}.pdf")
    return result


@router.get("/plan.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def plan_csv(access: ApiHr, session: SessionDep, query: Annotated[PeriodQuery, Query()]) -> Response:
    result = plan_versions.plan_document(session, query.period_id)
    return download(plan_exports.plan_csv(result), CSV_MEDIA, f"kompetanseplan-{result.period.first_year}.csv")


@router.get("/plan.xlsx", response_class=Response, responses={200: {"content": {XLSX_MEDIA: {}}}})
def plan_xlsx(access: ApiHr, session: SessionDep, query: Annotated[PeriodQuery, Query()]) -> Response:
    result = plan_versions.plan_document(session, query.period_id)
    return download(plan_exports.plan_xlsx(result), XLSX_MEDIA, f"kompetanseplan-{result.period.first_year}.xlsx")
