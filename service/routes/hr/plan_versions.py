"""The plan's versions: send the draft to consultation, record the consultation meeting (the minutes
as text or an uploaded PDF), adopt; each parsed into its command (``RecordConsultation``,
``AdoptPlan``) and refused with the errors beside the fields."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from aarshjul.domain.errors import DomainError
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning import versions as plan_versions
from aarshjul.usecases.planning.review import plan_comments
from service.auth import HrAccess, HrPageRoute, PageHr
from service.commands import AdoptPlan, RecordConsultation
from service.deps import LanguageDep, PostedForm, RuntimeDep
from service.html_forms import NOTHING_FAILED, FailedForm, RefusedForm, carry_out
from service.pages import page
from service.params import VersionPath
from service.queries import NoticeQuery
from service.routes.hr.common import NOTICES, hr_context, redirect, refused
from service.routes.hr.documents import PDF_MEDIA

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)

PAGE = "/plan/versions"
BLANK_PARTICIPANTS = 4
BLANK_STATEMENTS = 3


def meeting_of(command: RecordConsultation, pdf: bytes | None, filename: str) -> plan_versions.ConsultationMeeting:
    return plan_versions.ConsultationMeeting(
        meeting_on=command.meeting_on,
        participants=[plan_versions.Participant(p.name, p.union, p.role) for p in command.participants],
        statements=[plan_versions.Statement(s.union, s.position, s.comment) for s in command.statements],
        minutes_text=command.minutes_text,
        minutes_pdf=pdf,
        minutes_filename=filename,
    )


def adoption_of(command: AdoptPlan) -> plan_versions.Adoption:
    return plan_versions.Adoption(command.adopted_by, command.adopted_on, command.case_number)


def _versions_page(
    request: Request,
    access: HrAccess,
    runtime: Runtime,
    language: str,
    notice: str | None = None,
    failed: FailedForm = NOTHING_FAILED,
) -> Response:
    with runtime.sessions() as session:
        listed = plan_versions.versions(session)
        current = plan_versions.plan_document(session).version
        period = plan_versions.current_period(session)
        comments = plan_comments(session, period.id)
    consultation = current.consultation
    participants = failed.rows("consultation", "participants") or (
        [{"name": p.name, "union": p.union, "role": p.role} for p in consultation.participants] if consultation else []
    )
    statements = failed.rows("consultation", "statements") or (
        [{"union": s.union, "position": s.position.value, "comment": s.comment} for s in consultation.statements]
        if consultation
        else []
    )
    meeting_on = consultation.meeting_on.isoformat() if consultation else ""
    blank_p = {"name": "", "union": "", "role": ""}
    blank_s = {"union": "", "position": "", "comment": ""}
    context = {
        "hr": hr_context(access),
        "period": period,
        "versions": listed,
        "current": current,
        "comments": comments,
        "participants": participants + [blank_p] * BLANK_PARTICIPANTS,
        "statements": statements + [blank_s] * BLANK_STATEMENTS,
        "meeting_on": failed.value("consultation", "meeting_on", meeting_on),
        "minutes_text": failed.value("consultation", "minutes_text", consultation.minutes_text if consultation else ""),
        "adopted_by": failed.value("adopt", "adopted_by", ""),
        "adopted_on": failed.value("adopt", "adopted_on", ""),
        "case_number": failed.value("adopt", "case_number", ""),
        "notice": NOTICES.get(notice or ""),
        "failed": failed,
        "max_mb": plan_versions.MAX_MINUTES_BYTES // (1024 * 1024),
    }
    status = failed.status if failed else 200
    return page(request, "hr/plan_versions.html", context, language, status, address=PAGE if failed else None)


@router.get(PAGE)
def versions_page(
    request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep, query: Annotated[NoticeQuery, Query()]
) -> Response:
    return _versions_page(request, access, runtime, language, query.notice)


@router.post(PAGE)
def start_consultation_page(request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep) -> Response:
    try:
        plan_versions.start_consultation(runtime, access.principal.actor)
    except DomainError as exc:
        return refused(request, language, exc, PAGE)
    return redirect(PAGE, notice="consultation_started")


def uploaded_pdf(form: FormData, name: str = "minutes_pdf") -> tuple[bytes | None, str]:
    """The uploaded file (None when none was chosen), read up to one byte past the limit so that the
    use case can refuse a file that is too large."""
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, ""
    content = upload.file.read(plan_versions.MAX_MINUTES_BYTES + 1)
    return content, upload.filename


@router.post(PAGE + "/{number}/consultation")
def record_consultation_page(
    request: Request, number: VersionPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    pdf, filename = uploaded_pdf(form)

    def record(command: RecordConsultation) -> None:
        plan_versions.record_consultation(runtime, number, meeting_of(command, pdf, filename), access.principal.actor)

    try:
        carry_out(form, RecordConsultation, "consultation", language, record)
    except RefusedForm as exc:
        return _versions_page(request, access, runtime, language, failed=exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, PAGE)
    return redirect(PAGE, notice="consultation_recorded")


@router.post(PAGE + "/{number}/adoption")
def adopt_page(
    request: Request, number: VersionPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    def adopt(command: AdoptPlan) -> None:
        plan_versions.adopt(runtime, number, adoption_of(command), access.principal.actor)

    try:
        carry_out(form, AdoptPlan, "adopt", language, adopt)
    except RefusedForm as exc:
        return _versions_page(request, access, runtime, language, failed=exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, PAGE)
    return redirect("/plan", notice="adopted")


@router.get(PAGE + "/{number}/minutes.pdf")
def minutes_page(number: VersionPath, access: PageHr, runtime: RuntimeDep) -> Response:
    with runtime.sessions() as session:
        filename, content = plan_versions.minutes_pdf(session, number)
    return Response(
        content, media_type=PDF_MEDIA, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
