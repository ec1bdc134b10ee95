"""The status board (with the wheel), the drill-down into one unit, and revoking a task's link from it.

The board and the drill-down also show a refused form posted from them (``page_at``): the task
actions in ``task_actions`` post there and come back with the errors beside the fields.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aarshjul.domain.errors import DomainError, NotFound
from aarshjul.presentation.i18n import gettext
from aarshjul.presentation.templating import render
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.task_links import revoke_task_link
from aarshjul.usecases.planning.versions import glance
from aarshjul.usecases.reporting.board import cycle_status
from aarshjul.usecases.reporting.board_model import BoardFilters
from aarshjul.usecases.reporting.cycles import list_cycles
from aarshjul.usecases.reporting.unassignable import unassignable_tasks
from aarshjul.usecases.reporting.unit_detail import unit_detail
from service.auth import HrAccess, HrPageRoute, PageHr
from service.deps import LanguageDep, RuntimeDep, SessionDep
from service.html_forms import NOTHING_FAILED, FailedForm
from service.pages import message_page, page
from service.params import MAX_ID, IdPath
from service.queries import BoardQuery, CycleQuery, UnitQuery
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

_UNIT_PATH = re.compile(r"/board/units/([0-9]{1,19})")


def board_view(
    request: Request,
    access: HrAccess,
    runtime: Runtime,
    session: Session,
    language: str,
    query: BoardQuery,
    failed: FailedForm = NOTHING_FAILED,
    address: str | None = None,
) -> Response:
    cycle_id = cycle_or_latest(session, query.cycle)
    if cycle_id is None:
        return page(request, "hr/no_cycle.html", {"hr": hr_context(access)}, language)
    filters = query.filters()
    status = cycle_status(session, cycle_id, filters, today=today_of(runtime))
    # The filter choices come from the whole cycle, whatever the current filter shows.
    everything = (
        status
        if filters == BoardFilters()
        else cycle_status(session, cycle_id, BoardFilters(), today=today_of(runtime))
    )
    shown = {"unit": query.unit, "step": query.step, "late": "1" if query.late else ""}
    csv = {"unit_id": query.unit, "step": query.step, "late_only": "true" if query.late else ""}
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
            "query": urlencode({k: v for k, v in shown.items() if v}),
            "csv_query": urlencode({k: v for k, v in csv.items() if v}),
            "notice": NOTICES.get(query.notice or ""),
            "unassignable": unassignable_tasks(session, cycle_id),
            # A column of its own once the talks' follow-ups have begun, and not on a one-step board.
            "show_follow_ups": filters.step is None and (everything.follow_ups.done + everything.follow_ups.open) > 0,
            "failed": failed,
            "plan_glance": glance(session),
        },
        language,
        422 if failed else 200,
        address=address,
    )


def unit_view(
    request: Request,
    access: HrAccess,
    runtime: Runtime,
    session: Session,
    language: str,
    unit_id: int,
    query: UnitQuery,
    failed: FailedForm = NOTHING_FAILED,
    address: str | None = None,
) -> Response:
    cycle_id = cycle_or_latest(session, query.cycle)
    if cycle_id is None:
        raise NotFound("no cycle has been started yet")
    detail = unit_detail(session, cycle_id, unit_id, today=today_of(runtime))
    shown = NOTICES.get(query.notice or "")
    if query.notice == "revoked":
        revoked = next((t for t in detail.open_tasks if t.task_id == query.task), None)
        if revoked is not None:  # still listed: say whom the new link went to
            shown = gettext(language, "The link has been revoked, and a new one has been sent to {name}.").format(
                name=revoked.assignee_name
            )
    context = {"hr": hr_context(access), "detail": detail, "notice": shown, "failed": failed}
    return page(request, "hr/unit.html", context, language, 422 if failed else 200, address=address)


def page_at(
    request: Request, access: HrAccess, runtime: Runtime, language: str, back: str, failed: FailedForm
) -> Response:
    """The board or the drill-down at ``back`` (where the refused form was), showing ``failed``."""
    target = urlsplit(back)
    params = dict(parse_qsl(target.query))
    unit = _UNIT_PATH.fullmatch(target.path)
    with runtime.sessions() as session:
        try:
            if target.path == "/board":
                query = BoardQuery.model_validate(params)
                return board_view(request, access, runtime, session, language, query, failed, back)
            if unit is not None and 1 <= int(unit.group(1)) <= MAX_ID:
                unit_query = UnitQuery.model_validate(params)
                return unit_view(
                    request, access, runtime, session, language, int(unit.group(1)), unit_query, failed, back
                )
        except (ValidationError, DomainError):
            pass  # an address the pages would refuse: the errors alone, with the way back
    return message_page(
        request,
        language,
        gettext(language, "That could not be done"),
        list(failed.errors.values()),
        422,
        link_href=safe_next(back, "/board"),
        link_text=gettext(language, "Back"),
    )


@router.get("/board")
def board_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    session: SessionDep,
    language: LanguageDep,
    query: Annotated[BoardQuery, Query()],
) -> Response:
    return board_view(request, access, runtime, session, language, query)


@router.get("/board/wheel.svg")
def wheel_svg(
    access: PageHr,
    runtime: RuntimeDep,
    session: SessionDep,
    language: LanguageDep,
    query: Annotated[CycleQuery, Query()],
) -> Response:
    cycle_id = cycle_or_latest(session, query.cycle)
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
    unit_id: IdPath,
    access: PageHr,
    runtime: RuntimeDep,
    session: SessionDep,
    language: LanguageDep,
    query: Annotated[UnitQuery, Query()],
) -> Response:
    return unit_view(request, access, runtime, session, language, unit_id, query)


@router.post("/hr/tasks/{task_id}/link/revoke")
def revoke_link_page(
    request: Request,
    task_id: IdPath,
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
