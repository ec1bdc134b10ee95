"""The competence plan as HR reads it, with the reviewers HR invites to comment on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from aarshjul.domain.errors import DomainError, InvalidInput, NotFound
from aarshjul.presentation.i18n import DEFAULT_LANGUAGE
from aarshjul.runtime import Runtime
from aarshjul.usecases.reporting.plan_review import (
    active_reviewers,
    invite_reviewer,
    plan_with_comments,
    remove_reviewer,
)
from service.auth import HrAccess, HrPageRoute, PageHr
from service.deps import LanguageDep, RuntimeDep
from service.pages import page
from service.routes.hr.common import NOTICES, hr_context, refused

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)

#: What the invitation form says about a refused field (English message ids).
REVIEWER_ERRORS = {
    "name": "Write the reviewer's name.",
    "email": "Write a valid email address.",
    "language": "Choose the language of the email.",
}


def _plan_page(
    request: Request,
    access: HrAccess,
    runtime: Runtime,
    language: str,
    *,
    needs_year: int | None = None,
    notice: str | None = None,
    invite_errors: dict[str, str] | None = None,
    invite_values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with runtime.sessions() as session:
        try:
            result = plan_with_comments(session, needs_year=needs_year)
        except NotFound:
            return page(request, "hr/no_cycle.html", {"hr": hr_context(access)}, language)
        reviewers = active_reviewers(session, result.period.id, runtime.clock())
    context = {
        "hr": hr_context(access),
        "plan": result,
        "reviewers": reviewers,
        "notice": NOTICES.get(notice or ""),
        "invite_errors": invite_errors or {},
        "invite": invite_values or {"name": "", "email": "", "language": DEFAULT_LANGUAGE},
    }
    return page(request, "hr/plan.html", context, language, status_code)


@router.get("/plan")
def plan_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    needs_year: Annotated[int | None, Query()] = None,
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    return _plan_page(request, access, runtime, language, needs_year=needs_year, notice=notice)


@router.post("/plan/reviewers")
def invite_reviewer_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    name: Annotated[str, Form(max_length=400)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    reviewer_language: Annotated[str, Form(alias="language", max_length=8)] = DEFAULT_LANGUAGE,
) -> Response:
    try:
        invite_reviewer(runtime, name, email, reviewer_language, actor=access.principal.actor)
    except InvalidInput as exc:
        values = {"name": name, "email": email, "language": reviewer_language}
        errors = {exc.field: REVIEWER_ERRORS.get(exc.field, exc.reason)}
        return _plan_page(
            request, access, runtime, language, invite_errors=errors, invite_values=values, status_code=422
        )
    except DomainError as exc:
        return refused(request, language, exc, "/plan")
    return RedirectResponse("/plan?notice=invited#reviewers", status_code=303)


@router.post("/plan/reviewers/{reviewer_id}/remove")
def remove_reviewer_page(
    request: Request, reviewer_id: int, access: PageHr, runtime: RuntimeDep, language: LanguageDep
) -> Response:
    try:
        remove_reviewer(runtime, reviewer_id, actor=access.principal.actor)
    except DomainError as exc:
        return refused(request, language, exc, "/plan")
    return RedirectResponse("/plan?notice=reviewer_removed#reviewers", status_code=303)
