"""The competence plan as HR reads it, with the reviewers HR invites to comment on it. The invitation
form is parsed into ``InviteReviewer``; a refused one shows the plan again with the error beside the field."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from aarshjul.domain.errors import DomainError, InvalidInput, NotFound
from aarshjul.presentation.i18n import gettext, reason_in
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning.plan import current_period
from aarshjul.usecases.planning.review import (
    active_reviewers,
    invite_reviewer,
    plan_with_comments,
    remove_reviewer,
)
from aarshjul.usecases.planning.status import yearly_status
from aarshjul.usecases.planning.versions import in_force
from service.auth import HrAccess, HrPageRoute, PageHr
from service.commands import InviteReviewer
from service.deps import LanguageDep, PostedForm, RuntimeDep
from service.html_forms import NOTHING_FAILED, FailedForm, RefusedForm, carry_out, form_values
from service.pages import page
from service.params import IdPath
from service.queries import PlanPageQuery, PlanStatusPageQuery
from service.routes.hr.common import NOTICES, hr_context, refused, today_of

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
    version: int | None = None,
    notice: str | None = None,
    failed: FailedForm = NOTHING_FAILED,
) -> Response:
    with runtime.sessions() as session:
        try:
            result = plan_with_comments(session, needs_year=needs_year, version=version)
        except NotFound:
            if version is not None:
                raise
            return page(request, "hr/no_cycle.html", {"hr": hr_context(access)}, language)
        reviewers = active_reviewers(session, result.period.id, runtime.clock())
        force = in_force(session, result.period.id)
    pdf_query = {"format": "pdf", "lang": language, **({"version": version} if version is not None else {})}
    shows_other = force is not None and force.number != result.version.number
    in_force_pdf = {"format": "pdf", "lang": language, "version": force.number} if shows_other and force else None
    context = {
        "hr": hr_context(access),
        "plan": result,
        "in_force": force,
        "pdf_href": "/api/plan?" + urlencode(pdf_query),
        "in_force_pdf_href": "/api/plan?" + urlencode(in_force_pdf) if in_force_pdf else None,
        "reviewers": reviewers,
        "notice": NOTICES.get(notice or ""),
        "failed": failed,
        "invite_language": failed.value("invite", "language", runtime.settings.default_language),
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
    return _plan_page(
        request, access, runtime, language, needs_year=query.needs_year, version=query.version, notice=query.notice
    )


@router.post("/plan/reviewers")
def invite_reviewer_page(
    request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    def invite(command: InviteReviewer) -> None:
        try:
            invite_reviewer(runtime, command.name, command.email, command.language, actor=access.principal.actor)
        except InvalidInput as exc:
            known = exc.field in REVIEWER_ERRORS
            message = gettext(language, REVIEWER_ERRORS[exc.field]) if known else reason_in(language, exc)
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


@router.get("/plan/status")
def status_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    query: Annotated[PlanStatusPageQuery, Query()],
) -> Response:
    """The yearly status of the plan: the year asked for, else this year (within the period)."""
    today = today_of(runtime)
    with runtime.sessions() as session:
        try:
            period = current_period(session)
        except NotFound:
            return page(request, "hr/no_cycle.html", {"hr": hr_context(access)}, language)
        year = query.year or min(max(today.year, period.first_year), period.last_year)
        result = yearly_status(session, year, today)
    context = {
        "hr": hr_context(access),
        "status": result,
        "years": list(range(period.first_year, period.last_year + 1)),
        "downloads": {
            f: "/api/plan/status?" + urlencode({"year": year, "format": f, "lang": language})
            for f in ("pdf", "xlsx", "csv")
        },
    }
    return page(request, "hr/plan_status.html", context, language)
