"""Every router of the service, in the order they are matched.

Each area owns its module: home (the landing page), forms (assignee links), links (lost-link
recovery), outbox (the local mail outbox), personal_data (a person's own data: the export, follow-ups
about them), my_tasks (a signed-in person's own tasks), plan_review (a union representative reads the draft plan
and comments), hr (sign-in,
board, plan, cycles API).
"""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import forms, home, hr, links, my_tasks, outbox, personal_data, plan_review

ROUTERS: list[APIRouter] = [
    home.router,
    forms.router,
    links.router,
    my_tasks.router,
    personal_data.router,
    plan_review.router,
    outbox.router,
    hr.router,
]
