"""HR acting on a running cycle's tasks from the board and the drill-down: moving deadlines,
reassigning tasks, reminding everyone late on a step."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from aarshjul.domain.errors import DomainError, InvalidInput
from aarshjul.usecases.admin.reminders import remind_late
from aarshjul.usecases.admin.task_admin import extend_deadline, reassign_tasks
from service.auth import HrPageRoute, PageHr
from service.deps import LanguageDep, RuntimeDep
from service.redirects import safe_next
from service.routes.hr.common import redirect, refused, with_notice

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)


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
        return refused(request, language, exc, back)
    return RedirectResponse(with_notice(back, "extended"), status_code=303)


@router.post("/hr/cycles/{cycle_id}/reassign")
async def reassign_page(
    request: Request,
    cycle_id: int,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
) -> Response:
    form = await request.form()
    back = safe_next(str(form.get("back", "/board")), "/board")
    task_ids = [int(v) for v in form.getlist("task_id") if isinstance(v, str) and v.isdigit()]
    email = str(form.get("assignee_email", "")).strip().lower()
    try:
        if not task_ids:
            raise InvalidInput("task_id", "choose at least one task")
        reassign_tasks(runtime, task_ids, email, actor=access.principal.actor, cycle_id=cycle_id)
    except DomainError as exc:
        return refused(request, language, exc, back)
    return RedirectResponse(with_notice(back, "reassigned"), status_code=303)


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
        return refused(request, language, exc, f"/board?cycle={cycle_id}")
    return redirect("/board", cycle=cycle_id, step=step_key, late="1", notice="reminded")
