"""Cycles: the list, starting one (preview first), cloning last year's, closing one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from aarshjul.domain.errors import DomainError, InvalidInput
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.start import clone_last_year, preview_cycle, start_cycle
from aarshjul.usecases.reporting.cycles import list_cycles
from service.auth import HrAccess, HrPageRoute, PageHr
from service.deps import LanguageDep, RuntimeDep, SessionDep
from service.pages import page
from service.routes.hr.common import error_status, hr_context, redirect, refused, today_of

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)


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
        "hr": hr_context(access),
        "cycles": list_cycles(session),
        "form": form or _start_form_defaults(runtime),
        "error": {"field": getattr(error, "field", ""), "reason": getattr(error, "reason", str(error))}
        if error
        else None,
        "preview": preview,
    }
    return page(request, "hr/cycles.html", context, language, error_status(error) if error else 200)


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
    return redirect("/board", cycle=cycle_id, notice="started")


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
        return refused(request, language, InvalidInput("starts_on", "give a date as YYYY-MM-DD"), "/hr/cycles")
    except DomainError as exc:
        return refused(request, language, exc, "/hr/cycles")
    return redirect("/board", cycle=cycle_id, notice="started")


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
        return refused(request, language, exc, "/hr/cycles")
    return redirect("/board", cycle=cycle_id, notice="closed")
