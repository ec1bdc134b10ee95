"""``/plan-review/{token}``: a reviewer HR invited (a union representative) reads the draft competence
plan and comments on it.

No JavaScript. Opening the link (GET) changes nothing, because mail scanners follow links; a comment
is a POST with a CSRF token bound to the link, then a redirect back to the page. A dead link (tampered,
expired, withdrawn by HR) shows one plain page that says which and what to do.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aarshjul.domain.errors import InvalidInput
from aarshjul.presentation.i18n import gettext
from aarshjul.signing import FormPurpose, form_csrf, form_csrf_ok
from aarshjul.usecases.planning.review import (
    COMMENT_MAX_CHARS,
    ReviewLinkProblem,
    ReviewLinkRefused,
    add_comment,
    open_review,
)
from service.deps import LanguageDep, RuntimeDep
from service.email_request import no_store
from service.pages import lang_query, message_page, page

router = APIRouter(tags=["plan review"], include_in_schema=False)

REVIEW_PATH = "/plan-review"

#: What the form says about a refused comment, by field (English message ids).
FIELD_ERRORS = {
    "body": "Write a comment of at most {count} characters.",
    "target": "Choose a competence area or a measure from the list.",
}


def _refused(request: Request, language: str, problem: ReviewLinkProblem) -> Response:
    _ = partial(gettext, language)
    texts = {
        ReviewLinkProblem.INVALID: (
            _("This link does not work"),
            _("The link is incomplete or was not made by Årshjul. Copy the whole link from the email."),
            404,
        ),
        ReviewLinkProblem.EXPIRED: (
            _("This link has expired"),
            _("The time for comments on the plan through this link is over. Ask HR if you want to comment."),
            410,
        ),
        ReviewLinkProblem.REVOKED: (
            _("This link has been withdrawn"),
            _("HR has withdrawn this link to the plan. Ask HR if you think this is a mistake."),
            410,
        ),
    }
    title, text, status = texts[problem]
    return no_store(message_page(request, language, title, [text], status))


def _page(
    request: Request,
    runtime: RuntimeDep,
    language: str,
    token: str,
    *,
    saved: bool = False,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        review = open_review(runtime, token)
    except ReviewLinkRefused as exc:
        return _refused(request, language, exc.problem)
    context: dict[str, Any] = {
        "review": review,
        "plan": review.plan,
        "csrf_token": form_csrf(runtime.settings.secret(), FormPurpose.PLAN_REVIEW_COMMENT, token),
        "max_chars": COMMENT_MAX_CHARS,
        "saved": saved,
        "errors": errors or {},
        "values": values or {"body": "", "target": ""},
        "action": request.url.path + lang_query(request),
    }
    return no_store(page(request, "plan_review/plan.html", context, language, status_code))


@router.get(REVIEW_PATH + "/{token}", response_class=HTMLResponse)
def review_page(
    token: str,
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    saved: Annotated[str | None, Query()] = None,
) -> Response:
    return _page(request, runtime, language, token, saved=saved == "1")


@router.post(REVIEW_PATH + "/{token}", response_class=HTMLResponse)
def comment(
    token: str,
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    body: Annotated[str, Form(max_length=COMMENT_MAX_CHARS * 2)] = "",
    target: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not form_csrf_ok(runtime.settings.secret(), FormPurpose.PLAN_REVIEW_COMMENT, token, csrf_token):
        _ = partial(gettext, language)
        return no_store(
            message_page(
                request,
                language,
                _("The page had expired"),
                [_("Open the link from the email again and write your comment there.")],
                403,
            )
        )
    try:
        add_comment(runtime, token, body, target)
    except ReviewLinkRefused as exc:
        return _refused(request, language, exc.problem)
    except InvalidInput as exc:
        errors = {exc.field: FIELD_ERRORS.get(exc.field, exc.reason)}
        values = {"body": body, "target": target}
        return _page(request, runtime, language, token, errors=errors, values=values, status_code=422)
    return no_store(RedirectResponse(request.url.path + lang_query(request, saved="1"), status_code=303))
