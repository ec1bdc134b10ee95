"""``/``: where someone lands who types the service's address: what Årshjul is and where to go."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from notifications.dev_outbox import enabled as outbox_enabled
from service.deps import LanguageDep, RuntimeDep
from service.pages import page

router = APIRouter(tags=["home"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, runtime: RuntimeDep, language: LanguageDep) -> HTMLResponse:
    context = {"outbox": outbox_enabled(runtime.settings), "demo": runtime.settings.demo}
    return page(request, "home.html", context, language)
