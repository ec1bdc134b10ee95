"""Cycles: the list, starting one (preview first), cloning last year's, closing one.

The forms are parsed into the API's commands (``StartCycle``, ``CloneLastYear``, ``CloseCycle``); a
refused one shows the cycles page again with the errors beside the fields and the input kept (422, or
409 when the start overlaps a running cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from aarshjul.domain.errors import DomainError
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.start import CyclePreview, clone_last_year, preview_cycle, start_cycle
from aarshjul.usecases.reporting.cycles import list_cycles
from service.auth import HrAccess, HrPageRoute, PageHr
from service.commands import CloneLastYear, CloseCycle, StartCycle
from service.deps import LanguageDep, PostedForm, RuntimeDep
from service.html_forms import NOTHING_FAILED, FailedForm, RefusedForm, Typed, carry_out, form_values
from service.pages import page
from service.params import IdPath
from service.routes.hr.common import error_status, hr_context, redirect, refused, today_of

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)

PAGE = "/hr/cycles"


def _start_form(runtime: Runtime, values: Mapping[str, Typed] | None) -> dict[str, Any]:
    """The start form's fields: what was typed (or previewed), else this year from today."""
    today = today_of(runtime)
    typed = values or {"year": str(today.year), "starts_on": today.isoformat()}
    typed_due = typed.get("step_due")
    due = typed_due if isinstance(typed_due, dict) else {}
    return {
        "year": typed.get("year", ""),
        "starts_on": typed.get("starts_on", ""),
        "steps": [
            {
                "key": s.key,
                "number": s.number,
                "name": s.name,
                "due": due.get(s.key, "") if isinstance(due, dict) else "",
            }
            for s in runtime.cycle_definition().active_steps
        ],
    }


def _cycles_page(
    request: Request,
    access: HrAccess,
    runtime: Runtime,
    language: str,
    *,
    failed: FailedForm = NOTHING_FAILED,
    start_values: Mapping[str, Typed] | None = None,
    preview: dict[str, Any] | None = None,
    address: str | None = PAGE,
) -> Response:
    with runtime.sessions() as session:
        cycles = list_cycles(session)
    kept = start_values if start_values is not None else (failed.values if failed.form == "start" else None)
    context = {
        "hr": hr_context(access),
        "cycles": cycles,
        "form": _start_form(runtime, kept),
        "failed": failed,
        "preview": preview,
    }
    return page(request, "hr/cycles.html", context, language, failed.status if failed else 200, address=address)


def _start_refused(
    request: Request, access: HrAccess, runtime: Runtime, language: str, form: FormData, exc: DomainError
) -> Response:
    """The start form as typed, with the use case's reason (an overlapping cycle answers 409)."""
    failed = FailedForm.refused("start", exc, form_values(form, StartCycle), error_status(exc))
    return _cycles_page(request, access, runtime, language, failed=failed)


@router.get(PAGE)
def cycles_page(request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep) -> Response:
    return _cycles_page(request, access, runtime, language, address=None)


@router.post("/hr/cycles/preview")
def preview_page(
    request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    def preview(command: StartCycle) -> CyclePreview:
        return preview_cycle(runtime, command.year, starts_on=command.starts_on, step_due=command.step_due)

    try:
        result = carry_out(form, StartCycle, "start", language, preview)
    except RefusedForm as exc:
        return _cycles_page(request, access, runtime, language, failed=exc.failed)
    except DomainError as exc:
        return _start_refused(request, access, runtime, language, form, exc)
    # The form now shows the dates the cycle would get, ready to start.
    previewed: dict[str, Typed] = {
        "year": str(result.year),
        "starts_on": result.starts_on.isoformat(),
        "step_due": {key: day.isoformat() for key, day in result.step_due.items()},
    }
    shown = {
        "year": result.year,
        "starts_on": result.starts_on,
        "definition": f"{result.definition_key} v{result.definition_version}",
        "tasks": sorted(result.first_tasks, key=lambda t: (t.due_on, t.unit_name, t.person_name)),
    }
    return _cycles_page(request, access, runtime, language, start_values=previewed, preview=shown)


@router.post("/hr/cycles/start")
def start_page(
    request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    def start(command: StartCycle) -> int:
        return start_cycle(
            runtime, command.year, starts_on=command.starts_on, step_due=command.step_due, actor=access.principal.actor
        )

    try:
        cycle_id = carry_out(form, StartCycle, "start", language, start)
    except RefusedForm as exc:
        return _cycles_page(request, access, runtime, language, failed=exc.failed)
    except DomainError as exc:
        return _start_refused(request, access, runtime, language, form, exc)
    return redirect("/board", cycle=cycle_id, notice="started")


@router.post("/hr/cycles/clone")
def clone_page(
    request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    def clone(command: CloneLastYear) -> int:
        return clone_last_year(runtime, actor=access.principal.actor, starts_on=command.starts_on)

    try:
        cycle_id = carry_out(form, CloneLastYear, "clone", language, clone)
    except RefusedForm as exc:
        return _cycles_page(request, access, runtime, language, failed=exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, PAGE)
    return redirect("/board", cycle=cycle_id, notice="started")


@router.post("/hr/cycles/{cycle_id}/close")
def close_page(
    request: Request, cycle_id: IdPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    def close(command: CloseCycle) -> None:
        close_cycle(runtime, cycle_id, actor=access.principal.actor, force=command.force)

    try:
        carry_out(form, CloseCycle, f"close-{cycle_id}", language, close)
    except RefusedForm as exc:
        return _cycles_page(request, access, runtime, language, failed=exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, PAGE)
    return redirect("/board", cycle=cycle_id, notice="closed")
