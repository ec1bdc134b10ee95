"""Every router of the service, in the order they are matched.

Each area owns its module: forms (assignee links), links (lost-link recovery), outbox (the local
mail outbox), hr (sign-in, board, plan, cycles API).
"""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import forms, hr, links, outbox

ROUTERS: list[APIRouter] = [forms.router, links.router, outbox.router, hr.router]
