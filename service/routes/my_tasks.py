"""A signed-in person's own tasks (``/me/tasks``): their open tasks and receipts, without the email.

Reached through single sign-on (anyone) or HR's sign-in; without a session the sign-in page answers
and comes back here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aarshjul.usecases.work.my_tasks import my_tasks
from service.auth import MY_TASKS, HrPageRoute, PagePerson
from service.deps import LanguageDep, RuntimeDep
from service.pages import page

router = APIRouter(route_class=HrPageRoute)


@router.get(MY_TASKS, include_in_schema=False)
async def show_my_tasks(request: Request, access: PagePerson, runtime: RuntimeDep, language: LanguageDep) -> Response:
    tasks = await run_in_threadpool(my_tasks, runtime, access.principal.person_id)
    context = {"tasks": tasks, "csrf": access.csrf, "is_hr": access.principal.is_hr}
    return page(request, "me/tasks.html", context, language)
