"""The status board (with the wheel), the drill-down into one unit, and revoking a task's link from it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from aarshjul.domain.errors import DomainError, NotFound
from aarshjul.presentation.i18n import gettext
from aarshjul.presentation.templating import render
from aarshjul.usecases.admin.task_links import revoke_task_link
from aarshjul.usecases.reporting.board import cycle_status
from aarshjul.usecases.reporting.board_model import BoardFilters
from aarshjul.usecases.reporting.cycles import list_cycles
from aarshjul.usecases.reporting.unit_detail import unit_detail
from service.auth import HrPageRoute, PageHr
from service.deps import LanguageDep, RuntimeDep, SessionDep
from service.pages import page
from service.redirects import safe_next
from service.routes.hr.common import (
    NOTICES,
    cycle_or_latest,
    hr_context,
    refused,
    today_of,
    with_notice,
)
from service.routes.hr.wheel import wheel_view

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)


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
    cycle_id = cycle_or_latest(session, cycle)
    if cycle_id is None:
        return page(request, "hr/no_cycle.html", {"hr": hr_context(access)}, language)
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
            "hr": hr_context(access),
            "status": status,
            "wheel": wheel_view(everything, language),
            "unit_choices": [(u.id, u.name, u.depth) for u in everything.units],
            "step_choices": [(s.key, s.number, s.names.get(language)) for s in everything.steps],
            "cycles": list_cycles(session),
            "query": query,
            "csv_query": csv_query,
            "notice": NOTICES.get(notice or ""),
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
    cycle_id = cycle_or_latest(session, cycle)
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
    cycle_id = cycle_or_latest(session, cycle)
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
        {"hr": hr_context(access), "detail": detail, "notice": shown},
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
        return refused(request, language, exc, back)
    return RedirectResponse(with_notice(back, "revoked") + f"&task={task_id}", status_code=303)
