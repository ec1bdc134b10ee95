"""Signing in and out (HR by password or single sign-on; anyone by single sign-on)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from aarshjul.presentation.i18n import gettext
from aarshjul.usecases.admin.hr_access import end_session
from service.auth import HOME, LOGIN_PATH, HrPageRoute, PagePerson, clear_session_cookie, sign_in_method
from service.deps import LanguageDep, RuntimeDep
from service.pages import message_page
from service.redirects import safe_next
from service.routes.hr.single_sign_on import provider_sign_out_url

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


#: Signing out needs a session (and its CSRF token), HR's or anyone's.
sign_out_router = APIRouter(route_class=HrPageRoute)


@sign_out_router.post("/hr/logout", include_in_schema=False)
async def logout(request: Request, access: PagePerson, runtime: RuntimeDep, language: LanguageDep) -> Response:
    await run_in_threadpool(end_session, runtime, access.principal, access.session_id)
    provider_url = await provider_sign_out_url(runtime) if access.principal.via == "oidc" else None
    if provider_url is None:
        response: Response = RedirectResponse(LOGIN_PATH, status_code=303)
    else:
        # Offered, not forced: the person may keep the provider's session for other services. A link,
        # not a redirect: the page's form-action policy keeps form posts on this site.
        name = runtime.settings.oidc_name
        response = message_page(
            request,
            language,
            gettext(language, "You are signed out of Årshjul"),
            [gettext(language, "You are still signed in to {provider} on this device.").format(provider=name)],
            200,
            provider_url,
            gettext(language, "Sign out of {provider} too").format(provider=name),
        )
    clear_session_cookie(response)
    return response
