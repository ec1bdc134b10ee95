"""Measure proposals waiting for HR, and HR's decision on each (the API's ``MeasureDecision``); a
refused decision shows the list again with the error beside that proposal's form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from aarshjul.domain.errors import DomainError
from aarshjul.runtime import Runtime
from aarshjul.usecases.reporting.proposals import measure_proposals
from aarshjul.usecases.work import measure_decision
from forms.registry import FormRejected
from service.auth import HrAccess, HrPageRoute, PageHr
from service.commands import MeasureDecision
from service.deps import LanguageDep, PostedForm, RuntimeDep
from service.html_forms import NOTHING_FAILED, FailedForm, RefusedForm, carry_out, error_messages, form_values
from service.pages import page
from service.params import IdPath
from service.queries import NoticeQuery
from service.routes.hr.common import NOTICES, hr_context, redirect, refused

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)

PAGE = "/hr/measures"


def _measures_page(
    request: Request,
    access: HrAccess,
    runtime: Runtime,
    language: str,
    notice: str | None = None,
    failed: FailedForm = NOTHING_FAILED,
) -> Response:
    with runtime.sessions() as session:
        proposals = measure_proposals(session)
    context = {"hr": hr_context(access), "proposals": proposals, "notice": NOTICES.get(notice or ""), "failed": failed}
    return page(
        request,
        "hr/measures.html",
        context,
        language,
        failed.status if failed else 200,
        address=PAGE if failed else None,
    )


@router.get(PAGE)
def measures_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    query: Annotated[NoticeQuery, Query()],
) -> Response:
    return _measures_page(request, access, runtime, language, query.notice)


@router.post("/hr/measures/{measure_id}/decision")
def decide_page(
    request: Request, measure_id: IdPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    form_id = f"decide-{measure_id}"

    def decide(command: MeasureDecision) -> None:
        person = access.principal.person_id
        try:
            measure_decision.decide_measure(runtime, measure_id, command.decision, command.comment, person)
        except FormRejected as exc:  # the approval form's own rules (a return needs a comment)
            errors = error_messages(exc.problems, MeasureDecision, language)
            raise RefusedForm(FailedForm(form_id, errors, form_values(form, MeasureDecision))) from exc

    try:
        carry_out(form, MeasureDecision, form_id, language, decide)
    except RefusedForm as exc:
        return _measures_page(request, access, runtime, language, failed=exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, PAGE)
    return redirect(PAGE, notice="decided")
