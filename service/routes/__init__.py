"""Every router of the service, in the order they are matched.

Each area owns its module: home (the landing page), forms (assignee links), calendar (a person's
deadlines as a calendar feed), links (lost-link recovery and SMS short links), my_tasks (a signed-in
person's own tasks), outbox (the local mail outbox), personal_data (a person's own data: the export,
follow-ups about them), plan_review (a union representative reads the draft plan and comments), hr
(sign-in, board, plan, cycles API), scim (provisioning by Entra ID or an HR system).
"""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import calendar, forms, home, hr, links, my_tasks, outbox, personal_data, plan_review, scim

ROUTERS: list[APIRouter] = [
    home.router,
    forms.router,
    calendar.router,
    links.router,
    my_tasks.router,
    personal_data.router,
    plan_review.router,
    outbox.router,
    hr.router,
    scim.router,
]
