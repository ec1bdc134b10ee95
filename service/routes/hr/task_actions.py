"""HR acting on a running cycle's tasks from the board and the drill-down: moving deadlines,
reassigning tasks, reminding everyone late on a step.

Each form is parsed into the API's command. A refused one shows the page it was sent from (its
``back``) again with status 422, the errors beside the fields and the input kept; a task or cycle
that is gone or closed gets the refusal page with the way back.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from aarshjul.domain.errors import DomainError
from aarshjul.usecases.admin.reminders import remind_late
from aarshjul.usecases.admin.task_admin import extend_deadline, reassign_tasks
from service.auth import HrPageRoute, PageHr
from service.commands import ExtendDeadline, Reassign, RemindLate
from service.deps import LanguageDep, PostedForm, RuntimeDep
from service.html_forms import RefusedForm, carry_out
from service.params import IdPath
from service.redirects import safe_next
from service.routes.hr.board import page_at
from service.routes.hr.common import redirect, refused, with_notice

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/hr/cycles/{cycle_id}/deadlines")
def extend_page(
    request: Request, cycle_id: IdPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    back = safe_next(_text(form, "back"), "/board")
    # The board has one such form; the drill-down one per step, each for its unit.
    form_id = f"extend-{_text(form, 'step_key')}" if _text(form, "unit_id") else "extend"
    try:
        carry_out(
            form,
            ExtendDeadline,
            form_id,
            language,
            lambda command: extend_deadline(
                runtime,
                new_due=command.new_due,
                actor=access.principal.actor,
                task_ids=command.task_ids,
                unit_id=command.unit_id,
                step_key=command.step_key,
                cycle_id=cycle_id,
            ),
        )
    except RefusedForm as exc:
        return page_at(request, access, runtime, language, back, exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, back)
    return RedirectResponse(with_notice(back, "extended"), status_code=303)


@router.post("/hr/cycles/{cycle_id}/reassign")
def reassign_page(
    request: Request, cycle_id: IdPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    back = safe_next(_text(form, "back"), "/board")
    try:
        carry_out(
            form,
            Reassign,
            "reassign",
            language,
            lambda command: reassign_tasks(
                runtime,
                command.task_ids,
                (command.assignee_email or "").lower(),
                actor=access.principal.actor,
                cycle_id=cycle_id,
            ),
        )
    except RefusedForm as exc:
        return page_at(request, access, runtime, language, back, exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, back)
    return RedirectResponse(with_notice(back, "reassigned"), status_code=303)


@router.post("/hr/cycles/{cycle_id}/remind")
def remind_page(
    request: Request, cycle_id: IdPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    back = f"/board?cycle={cycle_id}"

    def remind(command: RemindLate) -> str:
        remind_late(runtime, cycle_id, command.step_key, actor=access.principal.actor)
        return command.step_key

    try:
        step_key = carry_out(form, RemindLate, "remind", language, remind)
    except RefusedForm as exc:
        return page_at(request, access, runtime, language, back, exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, back)
    return redirect("/board", cycle=cycle_id, step=step_key, late="1", notice="reminded")
