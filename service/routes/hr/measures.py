"""Measure proposals waiting for HR, and HR's decision on each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from aarshjul.domain.errors import DomainError, InvalidInput
from aarshjul.usecases.reporting.proposals import measure_proposals
from service.auth import HrPageRoute, PageHr
from service.deps import LanguageDep, RuntimeDep, SessionDep
from service.pages import page
from service.routes.hr.common import NOTICES, decide_measure, hr_context, redirect, refused

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)


@router.get("/hr/measures")
def measures_page(
    request: Request,
    access: PageHr,
    session: SessionDep,
    language: LanguageDep,
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    proposals = measure_proposals(session)
    return page(
        request,
        "hr/measures.html",
        {"hr": hr_context(access), "proposals": proposals, "notice": NOTICES.get(notice or "")},
        language,
    )


@router.post("/hr/measures/{measure_id}/decision")
def decide_page(
    request: Request,
    measure_id: int,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    decision: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    try:
        if decision not in ("approve", "return"):
            raise InvalidInput("decision", "approve or return")
        decide_measure(runtime, measure_id, decision, comment.strip(), access)
    except DomainError as exc:
        return refused(request, language, exc, "/hr/measures")
    return redirect("/hr/measures", notice="decided")
