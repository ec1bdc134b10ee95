"""HR's side of the service, one module per area.

Pages (each needs an HR session, answers 401 with the sign-in form without one, and every form
carries the session's CSRF token): ``board`` (the board, the wheel, the drill-down, revoking a link),
``cycles`` (list, preview, start, clone, close), ``task_actions`` (deadlines, reassignment, reminders),
``measures`` (decisions on proposals), ``plan`` (the plan, its yearly status and its reviewers),
``plan_versions`` (consultation and adoption), ``plan_measures`` (HR's own measures, merges, placing and
pricing), ``competences`` (the catalogue and the competence picture across units), ``audit``. ``plan_api``
is the plan's part of the JSON API; ``documents`` makes its PDFs. ``sign_in`` signs people in and out,
``single_sign_on`` through the identity provider; ``api`` is the JSON API under /api. ``common`` holds
what the page modules share, ``wheel`` the wheel's view model.
"""

from __future__ import annotations

from fastapi import APIRouter

from service.routes.hr import (
    api,
    audit,
    board,
    competences,
    cycles,
    measures,
    plan,
    plan_api,
    plan_measures,
    plan_versions,
    sign_in,
    single_sign_on,
    task_actions,
)

#: Every HR router, pages before the API.
ROUTERS: list[APIRouter] = [
    sign_in.router,
    single_sign_on.router,
    sign_in.sign_out_router,
    board.router,
    cycles.router,
    task_actions.router,
    measures.router,
    plan.router,
    plan_versions.router,
    plan_measures.router,
    competences.router,
    audit.router,
    api.router,
    plan_api.router,
]

router = APIRouter()
for _router in ROUTERS:
    router.include_router(_router)
