"""HR signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from aarshjul.usecases.admin.hr_access import end_session
from service.auth import HOME, HrPageRoute, PageHr, clear_session_cookie, sign_in_method
from service.deps import LanguageDep, RuntimeDep
from service.redirects import safe_next

router = APIRouter()


@router.get("/hr/login", include_in_schema=False)
def login_form(
    request: Request, language: LanguageDep, next_url: Annotated[str, Query(alias="next")] = HOME
) -> Response:
    runtime = request.app.state.runtime
    return sign_in_method(runtime).start(request, language, safe_next(next_url, HOME))


@router.post("/hr/login", include_in_schema=False)
async def login(request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    return await sign_in_method(runtime).finish(request, runtime, language)


#: Signing out needs a session (and its CSRF token) like every HR page.
sign_out_router = APIRouter(route_class=HrPageRoute)


@sign_out_router.post("/hr/logout", include_in_schema=False)
def logout(access: PageHr, runtime: RuntimeDep) -> Response:
    end_session(runtime, access.principal, access.session_id)
    response = RedirectResponse("/hr/login", status_code=303)
    clear_session_cookie(response)
    return response
