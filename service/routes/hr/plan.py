"""The competence plan as HR reads it, with the reviewers HR invites to comment on it. The invitation
form is parsed into ``InviteReviewer``; a refused one shows the plan again with the error beside the field."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from aarshjul.domain.errors import DomainError, InvalidInput, NotFound
from aarshjul.presentation.i18n import DEFAULT_LANGUAGE, gettext
from aarshjul.runtime import Runtime
from aarshjul.usecases.reporting.plan_review import (
    active_reviewers,
    invite_reviewer,
    plan_with_comments,
    remove_reviewer,
)
from service.auth import HrAccess, HrPageRoute, PageHr
from service.commands import InviteReviewer
from service.deps import LanguageDep, PostedForm, RuntimeDep
from service.html_forms import NOTHING_FAILED, FailedForm, RefusedForm, carry_out, form_values
from service.pages import page
from service.params import IdPath
from service.queries import PlanPageQuery
from service.routes.hr.common import NOTICES, hr_context, refused

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)

PAGE = "/plan"

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
    failed: FailedForm = NOTHING_FAILED,
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
        "failed": failed,
        "invite_language": failed.value("invite", "language", DEFAULT_LANGUAGE),
    }
    status = failed.status if failed else 200
    return page(request, "hr/plan.html", context, language, status, address=PAGE if failed else None)


@router.get(PAGE)
def plan_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    query: Annotated[PlanPageQuery, Query()],
) -> Response:
    return _plan_page(request, access, runtime, language, needs_year=query.needs_year, notice=query.notice)


@router.post("/plan/reviewers")
def invite_reviewer_page(
    request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    def invite(command: InviteReviewer) -> None:
        try:
            invite_reviewer(runtime, command.name, command.email, command.language, actor=access.principal.actor)
        except InvalidInput as exc:
            message = gettext(language, REVIEWER_ERRORS[exc.field]) if exc.field in REVIEWER_ERRORS else exc.reason
            values = form_values(form, InviteReviewer)
            raise RefusedForm(FailedForm("invite", {exc.field: message}, values)) from exc

    try:
        carry_out(form, InviteReviewer, "invite", language, invite)
    except RefusedForm as exc:
        return _plan_page(request, access, runtime, language, failed=exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, PAGE)
    return RedirectResponse("/plan?notice=invited#reviewers", status_code=303)


@router.post("/plan/reviewers/{reviewer_id}/remove")
def remove_reviewer_page(
    request: Request, reviewer_id: IdPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep
) -> Response:
    try:
        remove_reviewer(runtime, reviewer_id, actor=access.principal.actor)
    except DomainError as exc:
        return refused(request, language, exc, PAGE)
    return RedirectResponse("/plan?notice=reviewer_removed#reviewers", status_code=303)
