"""HR's pages: the board (with the wheel and the drill-down), cycles, measure decisions, the plan, the audit log.

Every page needs an HR session; without one the route answers 401 with the sign-in form
(``HrPageRoute``). Every form carries the session's CSRF token. Routes parse, call one use case and
render a view model; a refused start re-renders the form with 422 (or 409) and the input kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from aarshjul.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from aarshjul.presentation.i18n import DEFAULT_LANGUAGE, gettext
from aarshjul.presentation.templating import render
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.reminders import remind_late
from aarshjul.usecases.admin.task_admin import extend_deadline, reassign_tasks
from aarshjul.usecases.admin.task_links import revoke_task_link
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.start import clone_last_year, preview_cycle, start_cycle
from aarshjul.usecases.reporting.audit_log import audit_log
from aarshjul.usecases.reporting.board import cycle_status
from aarshjul.usecases.reporting.board_model import BoardFilters
from aarshjul.usecases.reporting.cycles import latest_cycle_id, list_cycles
from aarshjul.usecases.reporting.plan_review import (
    active_reviewers,
    invite_reviewer,
    plan_with_comments,
    remove_reviewer,
)
from aarshjul.usecases.reporting.proposals import measure_proposals
from aarshjul.usecases.reporting.unassignable import unassignable_tasks
from aarshjul.usecases.reporting.unit_detail import unit_detail
from service.auth import HrAccess, HrPageRoute, PageHr
from service.deps import LanguageDep, RuntimeDep, SessionDep
from service.pages import message_page, page
from service.redirects import safe_next
from service.routes.hr_api import decide_measure, today_of
from service.routes.hr_wheel import wheel_view

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)

NOTICES = {
    "started": "The cycle has started. The first tasks are on their way.",
    "closed": "The cycle is closed.",
    "extended": "The deadline has been moved.",
    "reassigned": "The tasks have been reassigned.",
    "reminded": "Reminders are on their way to everyone late on the step.",
    "decided": "The decision has been saved and the unit leader told.",
    "revoked": "The link has been revoked, and a new one has been sent to the person the task is for.",
    "invited": "The reviewer has been invited; the link to the plan is on its way.",
    "reviewer_removed": "The reviewer has been removed; their link no longer works. Their comments are kept.",
}


#: What each audited action means, for the audit log page (the code is shown beside it).
AUDIT_ACTIONS = {
    "cycle.start": "Started a cycle",
    "cycle.close": "Closed a cycle",
    "cycle.cancel": "Cancelled a cycle",
    "cycle.remind_late": "Reminded everyone late on a step",
    "deadline.extend": "Moved a deadline",
    "task.reassign": "Gave a task to someone else",
    "task.submit": "Submitted a form",
    "task.amend": "Changed a submitted form",
    "measure.approve": "Approved a measure",
    "measure.return": "Returned a measure to the unit leader",
    "task.link_revoked": "Revoked a task's link",
    "hr.sign_in": "Signed in",
    "hr.sign_out": "Signed out",
    "hr.sign_in_failed": "Sign-in failed",
    "hr.sign_in_refused": "Sign-in refused",
    "hr.sign_in_locked": "Sign-in while locked out",
    "hr.lock_out": "Locked out after repeated failures",
    "hr.password_set": "Set a password",
    "hr.token_issued": "Issued an API token",
    "hr.token_revoked": "Revoked an API token",
    "org.import": "Imported the organisation",
    "strategy.load": "Loaded the strategy",
    "personal_data.export": "Downloaded their personal data",
    "plan_review.invite": "Invited a reviewer of the competence plan",
    "plan_review.remove": "Removed a reviewer of the competence plan",
}
#: The audit log's filter: action prefixes and what they cover.
AUDIT_GROUPS = {
    "": "All events",
    "cycle.": "Cycles",
    "deadline.": "Deadlines",
    "task.": "Tasks",
    "measure.": "Measure decisions",
    "hr.": "HR sign-in and API tokens",
    "org.": "The organisation",
    "strategy.": "The strategy",
    "personal_data.": "Personal data",
    "plan_review.": "Review of the competence plan",
}


def _hr(access: HrAccess) -> dict[str, Any]:
    return {"name": access.principal.name, "csrf": access.csrf}


def _error_status(exc: DomainError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return 422


def _refused(request: Request, language: str, exc: DomainError, back: str) -> Response:
    reason = exc.reason if isinstance(exc, InvalidInput) else str(exc)
    return message_page(
        request,
        language,
        gettext(language, "That could not be done"),
        [reason],
        _error_status(exc),
        link_href=back,
        link_text=gettext(language, "Back"),
    )


def _redirect(path: str, **query: object) -> RedirectResponse:
    params = {k: v for k, v in query.items() if v not in (None, "", False)}
    return RedirectResponse(f"{path}?{urlencode(params)}" if params else path, status_code=303)


def _cycle_or_latest(session: Session, cycle: int | None) -> int | None:
    return cycle if cycle is not None else latest_cycle_id(session)


# --- the board ----------------------------------------------------------------------------------


@router.get("/board")
def board_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    session: SessionDep,
    language: LanguageDep,
    cycle: Annotated[int | None, Query()] = None,
    unit: Annotated[str | None, Query()] = None,
    step: Annotated[str | None, Query()] = None,
    late: Annotated[bool, Query()] = False,
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    cycle_id = _cycle_or_latest(session, cycle)
    if cycle_id is None:
        return page(request, "hr/no_cycle.html", {"hr": _hr(access)}, language)
    unit_id = int(unit) if unit and unit.isdigit() else None
    filters = BoardFilters(unit_id=unit_id, step=step or None, late_only=late)
    status = cycle_status(session, cycle_id, filters, today=today_of(runtime))
    # The filter choices come from the whole cycle, whatever the current filter shows.
    everything = (
        status
        if filters == BoardFilters()
        else cycle_status(session, cycle_id, BoardFilters(), today=today_of(runtime))
    )
    query = urlencode({k: v for k, v in {"unit": unit_id, "step": step, "late": "1" if late else ""}.items() if v})
    csv_query = urlencode(
        {k: v for k, v in {"unit_id": unit_id, "step": step, "late_only": "true" if late else ""}.items() if v}
    )
    return page(
        request,
        "hr/board.html",
        {
            "hr": _hr(access),
            "status": status,
            "wheel": wheel_view(everything, language),
            "unit_choices": [(u.id, u.name, u.depth) for u in everything.units],
            "step_choices": [(s.key, s.number, s.names.get(language)) for s in everything.steps],
            "cycles": list_cycles(session),
            "query": query,
            "csv_query": csv_query,
            "notice": NOTICES.get(notice or ""),
            "unassignable": unassignable_tasks(session, cycle_id),
            # A column of its own once the talks' follow-ups have begun, and not on a one-step board.
            "show_follow_ups": filters.step is None and (everything.follow_ups.done + everything.follow_ups.open) > 0,
        },
        language,
    )


@router.get("/board/wheel.svg")
def wheel_svg(
    access: PageHr,
    runtime: RuntimeDep,
    session: SessionDep,
    language: LanguageDep,
    cycle: Annotated[int | None, Query()] = None,
) -> Response:
    cycle_id = _cycle_or_latest(session, cycle)
    if cycle_id is None:
        raise NotFound("no cycle has been started yet")
    status = cycle_status(session, cycle_id, today=today_of(runtime))
    svg = render(
        "hr/wheel.svg", {"wheel": wheel_view(status, language), "standalone": True}, language, runtime.settings.zone
    )
    return Response(svg, media_type="image/svg+xml")


@router.get("/board/units/{unit_id}")
def unit_page(
    request: Request,
    unit_id: int,
    access: PageHr,
    runtime: RuntimeDep,
    session: SessionDep,
    language: LanguageDep,
    cycle: Annotated[int | None, Query()] = None,
    notice: Annotated[str | None, Query()] = None,
    task: Annotated[int | None, Query()] = None,
) -> Response:
    cycle_id = _cycle_or_latest(session, cycle)
    if cycle_id is None:
        raise NotFound("no cycle has been started yet")
    detail = unit_detail(session, cycle_id, unit_id, today=today_of(runtime))
    shown = NOTICES.get(notice or "")
    if notice == "revoked":
        revoked = next((t for t in detail.open_tasks if t.task_id == task), None)
        if revoked is not None:  # still listed: say whom the new link went to
            shown = gettext(language, "The link has been revoked, and a new one has been sent to {name}.").format(
                name=revoked.assignee_name
            )
    return page(
        request,
        "hr/unit.html",
        {"hr": _hr(access), "detail": detail, "notice": shown},
        language,
    )


@router.post("/hr/tasks/{task_id}/link/revoke")
def revoke_link_page(
    request: Request,
    task_id: int,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    back: Annotated[str, Form()] = "/board",
) -> Response:
    """Every link sent for the task stops working; the assignee gets a new one (audited by the use case)."""
    back = safe_next(back, "/board")
    try:
        revoke_task_link(runtime, task_id, actor=access.principal.actor)
    except DomainError as exc:
        return _refused(request, language, exc, back)
    return RedirectResponse(_with_notice(back, "revoked") + f"&task={task_id}", status_code=303)


# --- cycles -------------------------------------------------------------------------------------


def _start_form_defaults(runtime: Runtime) -> dict[str, Any]:
    today = today_of(runtime)
    definition = runtime.cycle_definition()
    year = today.year
    return {
        "year": str(year),
        "starts_on": today.isoformat(),
        "steps": [{"key": s.key, "number": s.number, "name": s.name, "due": ""} for s in definition.active_steps],
    }


def _cycles_page(
    request: Request,
    access: HrAccess,
    runtime: Runtime,
    session: Session,
    language: str,
    form: dict[str, Any] | None = None,
    error: DomainError | None = None,
    preview: Any = None,
) -> Response:
    context = {
        "hr": _hr(access),
        "cycles": list_cycles(session),
        "form": form or _start_form_defaults(runtime),
        "error": {"field": getattr(error, "field", ""), "reason": getattr(error, "reason", str(error))}
        if error
        else None,
        "preview": preview,
    }
    return page(request, "hr/cycles.html", context, language, _error_status(error) if error else 200)


@router.get("/hr/cycles")
def cycles_page(
    request: Request, access: PageHr, runtime: RuntimeDep, session: SessionDep, language: LanguageDep
) -> Response:
    return _cycles_page(request, access, runtime, session, language)


async def _read_start_form(
    request: Request, runtime: Runtime
) -> tuple[dict[str, Any], int, dt.date | None, dict[str, dt.date]]:
    """The start form as typed (to re-render) and parsed. Raises InvalidInput naming the field."""
    data = await request.form()
    definition = runtime.cycle_definition()
    typed: dict[str, Any] = {
        "year": str(data.get("year", "")).strip(),
        "starts_on": str(data.get("starts_on", "")).strip(),
        "steps": [
            {"key": s.key, "number": s.number, "name": s.name, "due": str(data.get(f"due_{s.key}", "")).strip()}
            for s in definition.active_steps
        ],
    }
    if not typed["year"].isdigit():
        raise _FormError(typed, InvalidInput("year", "give the year as four digits"))
    starts_on = None
    if typed["starts_on"]:
        try:
            starts_on = dt.date.fromisoformat(typed["starts_on"])
        except ValueError:
            raise _FormError(typed, InvalidInput("starts_on", "give a date as YYYY-MM-DD")) from None
    step_due: dict[str, dt.date] = {}
    for step in typed["steps"]:
        if step["due"]:
            try:
                step_due[step["key"]] = dt.date.fromisoformat(step["due"])
            except ValueError:
                raise _FormError(typed, InvalidInput(f"step_due.{step['key']}", "give a date as YYYY-MM-DD")) from None
    return typed, int(typed["year"]), starts_on, step_due


class _FormError(Exception):
    def __init__(self, typed: dict[str, Any], error: DomainError) -> None:
        self.typed = typed
        self.error = error


@router.post("/hr/cycles/preview")
async def preview_page(
    request: Request, access: PageHr, runtime: RuntimeDep, session: SessionDep, language: LanguageDep
) -> Response:
    try:
        typed, year, starts_on, step_due = await _read_start_form(request, runtime)
        result = preview_cycle(runtime, year, starts_on=starts_on, step_due=step_due or None)
    except _FormError as exc:
        return _cycles_page(request, access, runtime, session, language, exc.typed, exc.error)
    except DomainError as exc:
        return _cycles_page(request, access, runtime, session, language, typed, exc)
    for step in typed["steps"]:
        step["due"] = result.step_due.get(step["key"], dt.date.min).isoformat()
    typed["starts_on"] = result.starts_on.isoformat()
    preview = {
        "year": result.year,
        "starts_on": result.starts_on,
        "definition": f"{result.definition_key} v{result.definition_version}",
        "tasks": sorted(result.first_tasks, key=lambda t: (t.due_on, t.unit_name, t.person_name)),
    }
    return _cycles_page(request, access, runtime, session, language, typed, preview=preview)


@router.post("/hr/cycles/start")
async def start_page(
    request: Request, access: PageHr, runtime: RuntimeDep, session: SessionDep, language: LanguageDep
) -> Response:
    try:
        typed, year, starts_on, step_due = await _read_start_form(request, runtime)
        cycle_id = start_cycle(
            runtime, year, starts_on=starts_on, step_due=step_due or None, actor=access.principal.actor
        )
    except _FormError as exc:
        return _cycles_page(request, access, runtime, session, language, exc.typed, exc.error)
    except DomainError as exc:
        return _cycles_page(request, access, runtime, session, language, typed, exc)
    return _redirect("/board", cycle=cycle_id, notice="started")


@router.post("/hr/cycles/clone")
def clone_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    starts_on: Annotated[str, Form()] = "",
) -> Response:
    try:
        day = dt.date.fromisoformat(starts_on) if starts_on else None
        cycle_id = clone_last_year(runtime, actor=access.principal.actor, starts_on=day)
    except ValueError:
        return _refused(request, language, InvalidInput("starts_on", "give a date as YYYY-MM-DD"), "/hr/cycles")
    except DomainError as exc:
        return _refused(request, language, exc, "/hr/cycles")
    return _redirect("/board", cycle=cycle_id, notice="started")


@router.post("/hr/cycles/{cycle_id}/close")
def close_page(
    request: Request,
    cycle_id: int,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    force: Annotated[bool, Form()] = False,
) -> Response:
    try:
        close_cycle(runtime, cycle_id, actor=access.principal.actor, force=force)
    except DomainError as exc:
        return _refused(request, language, exc, "/hr/cycles")
    return _redirect("/board", cycle=cycle_id, notice="closed")


@router.post("/hr/cycles/{cycle_id}/deadlines")
def extend_page(
    request: Request,
    cycle_id: int,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    new_due: Annotated[str, Form()],
    step_key: Annotated[str, Form()] = "",
    unit_id: Annotated[str, Form()] = "",
    task_id: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/board",
) -> Response:
    back = safe_next(back, "/board")
    try:
        try:
            day = dt.date.fromisoformat(new_due)
        except ValueError:
            raise InvalidInput("new_due", "give a date as YYYY-MM-DD") from None
        extend_deadline(
            runtime,
            new_due=day,
            actor=access.principal.actor,
            task_ids=[int(task_id)] if task_id.isdigit() else None,
            unit_id=int(unit_id) if unit_id.isdigit() else None,
            step_key=step_key or None,
            cycle_id=cycle_id,
        )
    except DomainError as exc:
        return _refused(request, language, exc, back)
    return RedirectResponse(_with_notice(back, "extended"), status_code=303)


def _with_notice(path: str, notice: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}notice={notice}"


@router.post("/hr/cycles/{cycle_id}/reassign")
async def reassign_page(
    request: Request,
    cycle_id: int,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
) -> Response:
    form = await request.form()
    back = str(form.get("back", "/board"))
    back = safe_next(back, "/board")
    task_ids = [int(v) for v in form.getlist("task_id") if isinstance(v, str) and v.isdigit()]
    email = str(form.get("assignee_email", "")).strip().lower()
    try:
        if not task_ids:
            raise InvalidInput("task_id", "choose at least one task")
        reassign_tasks(runtime, task_ids, email, actor=access.principal.actor, cycle_id=cycle_id)
    except DomainError as exc:
        return _refused(request, language, exc, back)
    return RedirectResponse(_with_notice(back, "reassigned"), status_code=303)


@router.post("/hr/cycles/{cycle_id}/remind")
def remind_page(
    request: Request,
    cycle_id: int,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    step_key: Annotated[str, Form()],
) -> Response:
    try:
        remind_late(runtime, cycle_id, step_key, actor=access.principal.actor)
    except DomainError as exc:
        return _refused(request, language, exc, f"/board?cycle={cycle_id}")
    return _redirect("/board", cycle=cycle_id, step=step_key, late="1", notice="reminded")


# --- measures -----------------------------------------------------------------------------------


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
        {"hr": _hr(access), "proposals": proposals, "notice": NOTICES.get(notice or "")},
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
        return _refused(request, language, exc, "/hr/measures")
    return _redirect("/hr/measures", notice="decided")


# --- the plan and the audit log -----------------------------------------------------------------


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
            return page(request, "hr/no_cycle.html", {"hr": _hr(access)}, language)
        reviewers = active_reviewers(session, result.period.id, runtime.clock())
    context = {
        "hr": _hr(access),
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
        return _refused(request, language, exc, "/plan")
    return RedirectResponse("/plan?notice=invited#reviewers", status_code=303)


@router.post("/plan/reviewers/{reviewer_id}/remove")
def remove_reviewer_page(
    request: Request, reviewer_id: int, access: PageHr, runtime: RuntimeDep, language: LanguageDep
) -> Response:
    try:
        remove_reviewer(runtime, reviewer_id, actor=access.principal.actor)
    except DomainError as exc:
        return _refused(request, language, exc, "/plan")
    return RedirectResponse("/plan?notice=reviewer_removed#reviewers", status_code=303)


@router.get("/hr/audit")
def audit_page(
    request: Request,
    access: PageHr,
    session: SessionDep,
    language: LanguageDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    action: Annotated[str | None, Query()] = None,
) -> Response:
    log = audit_log(session, limit=100, offset=offset, action=action or None)
    groups = dict(AUDIT_GROUPS)
    groups.setdefault(action or "", action or "")  # a prefix typed into the address is kept
    context = {
        "hr": _hr(access),
        "log": log,
        "action": action or "",
        "actions": AUDIT_ACTIONS,
        "groups": groups,
    }
    return page(request, "hr/audit.html", context, language)
