"""What HR's page modules share: the signed-in person for the layout, the notices a redirect can
name, the refusal page, redirects, and the organisation's today."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from aarshjul.presentation.i18n import gettext
from aarshjul.runtime import Runtime
from aarshjul.usecases.reporting.cycles import latest_cycle_id
from service.auth import HrAccess
from service.pages import message_page

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


def hr_context(access: HrAccess) -> dict[str, Any]:
    """The signed-in HR person as the layout shows them, with the CSRF token every form carries."""
    return {"name": access.principal.name, "csrf": access.csrf}


def today_of(runtime: Runtime) -> dt.date:
    return local_date(runtime.clock(), runtime.settings.zone)


def error_status(exc: DomainError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return 422


def refused(request: Request, language: str, exc: DomainError, back: str) -> Response:
    reason = exc.reason if isinstance(exc, InvalidInput) else str(exc)
    return message_page(
        request,
        language,
        gettext(language, "That could not be done"),
        [reason],
        error_status(exc),
        link_href=back,
        link_text=gettext(language, "Back"),
    )


def redirect(path: str, **query: object) -> RedirectResponse:
    params = {k: v for k, v in query.items() if v not in (None, "", False)}
    return RedirectResponse(f"{path}?{urlencode(params)}" if params else path, status_code=303)


def with_notice(path: str, notice: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}notice={notice}"


def cycle_or_latest(session: Session, cycle: int | None) -> int | None:
    return cycle if cycle is not None else latest_cycle_id(session)
