"""HR's side of the service, one module per area.

Pages (each needs an HR session, answers 401 with the sign-in form without one, and every form
carries the session's CSRF token): ``board`` (the board, the wheel, the drill-down, revoking a link),
``cycles`` (list, preview, start, clone, close), ``task_actions`` (deadlines, reassignment, reminders),
``measures`` (decisions on proposals), ``plan`` (the plan and its reviewers), ``audit``.
``sign_in`` signs HR in and out; ``api`` is the JSON API under /api. ``common`` holds what the page
modules share, ``wheel`` the wheel's view model.
"""

from __future__ import annotations

from fastapi import APIRouter

from service.routes.hr import api, audit, board, cycles, measures, plan, sign_in, task_actions

#: Every HR router, pages before the API.
ROUTERS: list[APIRouter] = [
    sign_in.router,
    sign_in.sign_out_router,
    board.router,
    cycles.router,
    task_actions.router,
    measures.router,
    plan.router,
    audit.router,
    api.router,
]

router = APIRouter()
for _router in ROUTERS:
    router.include_router(_router)
