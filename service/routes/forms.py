"""Assignees' forms: ``GET/POST /t/{token}`` (HTML, works without JavaScript) and
``GET/POST /api/t/{token}`` (JSON). Both parse, call the same use case, and render its answer.

The link is the credential. The HTML form also carries a CSRF token bound to the task and its link
version; the JSON API takes no cookie, so it needs none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from aarshjul.domain.errors import Conflict, Forbidden
from aarshjul.presentation.i18n import translations
from aarshjul.presentation.templating import format_date
from aarshjul.runtime import Runtime
from aarshjul.signing import MAX_TOKEN_LENGTH, BadToken, read_task_token, task_form_csrf, task_form_csrf_ok
from aarshjul.usecases.work.links import LinkReason, LinkRefused, Mode
from aarshjul.usecases.work.opening import OpenedTask, open_task
from aarshjul.usecases.work.submitting import save_draft, submit_form
from forms.fields import FormProblem
from forms.layout import FormView, ListSpec, build_view, layout_of, parse_form
from forms.messages import CHOICE_LABELS, message_for
from forms.registry import FormRejected, form_class, json_schema
from service.api_errors import LinkProblem, Problem, responses
from service.deps import LanguageDep, RuntimeDep
from service.json_guard import parse_json
from service.pages import lang_query, message_page, page
from service.params import StrictFlag
from service.routes.links import link_problem_page

router = APIRouter(tags=["forms"])

ADD_ROW = "add_row"


# --- request parsing ------------------------------------------------------------------------------


async def posted_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.multi_items() if not isinstance(value, UploadFile)}


class BadJson(Exception):
    pass


async def posted_json(request: Request) -> Any:
    """The body as JSON by the service's rules (``service.json_guard``), whatever its content type."""
    body = await request.body()
    try:
        return parse_json(body) if body else None
    except ValueError as exc:  # malformed, or holding what cannot be stored
        raise BadJson from exc


FormData = Annotated[dict[str, str], Depends(posted_form)]


def csrf_token(runtime: Runtime, token: str) -> str:
    """A CSRF token bound to the task and its link version (a new link makes old pages invalid)."""
    return task_form_csrf(runtime.settings.secret(), read_task_token(runtime.settings.secret(), token))


def _csrf_ok(runtime: Runtime, token: str, given: object) -> bool:
    try:
        claims = read_task_token(runtime.settings.secret(), token)
    except BadToken:
        return False
    return task_form_csrf_ok(runtime.settings.secret(), claims, given)


# --- pages ----------------------------------------------------------------------------------------


def _gettext(language: str) -> Callable[[str], str]:
    return translations(language).gettext


def _errors(problems: list[FormProblem], tr: Callable[[str], str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for problem in problems:
        errors.setdefault(".".join(str(p) for p in problem.loc), message_for(problem, tr))
    return errors


def _refusal_page(request: Request, language: str, exc: Forbidden | Conflict) -> HTMLResponse:
    tr = _gettext(language)
    if isinstance(exc, Forbidden):
        return message_page(
            request,
            language,
            tr("You cannot open this task"),
            [tr("Talk notes can only be read by the employee and their leader.")],
            403,
        )
    return message_page(
        request,
        language,
        tr("This has changed in the meantime"),
        [tr("Someone changed this while you were working on it, so nothing was saved. Open the link again.")],
        409,
    )


def _dates(language: str, zone: ZoneInfo) -> Callable[[str], str]:
    return lambda value: format_date(value, language, zone)


def _earlier_views(opened: OpenedTask, tr: Callable[[str], str], dates: Callable[[str], str]) -> list[dict[str, Any]]:
    titles = {
        "preparation": "The employee's preparation",
        "record": "The record of the talk",
        "individual_goals": "Your individual goals",
    }
    views = []
    for name, title in titles.items():
        part = getattr(opened.context, name)
        if part is None:
            continue
        view = build_view(form_class(part.form_key), part.data, {}, opened.choices, tr, editable=False, date=dates)
        view.parts = [p for p in view.parts if p.name in part.data]
        views.append(
            {
                "title": tr(title),
                "view": view,
                "shared_only": part.shared_only,
                "nothing_shared": part.shared_only and not part.data,
            }
        )
    return views


def render_task(
    request: Request,
    runtime: Runtime,
    language: str,
    token: str,
    opened: OpenedTask,
    *,
    data: dict[str, Any] | None = None,
    problems: list[FormProblem] | None = None,
    extra_rows: dict[str, int] | None = None,
    editing: bool | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    tr = _gettext(language)
    dates = _dates(language, runtime.settings.zone)
    task = opened.task
    if editing is None:
        editing = task.mode is Mode.EDIT or (task.mode is Mode.AMEND and opened.data_is_draft)
    cls = form_class(task.form_key)
    values = (data if data is not None else opened.data) if editing else opened.submitted_data
    view: FormView = build_view(
        cls,
        values,
        _errors(problems or [], tr),
        opened.choices,
        tr,
        extra_rows=extra_rows,
        editable=editing,
        date=dates,
        rules=opened.rules,
    )
    context = {
        "task": task,
        "step_name": task.step_name.get(language),
        "part_name": task.part_name.get(language),
        "view": view,
        "editing": editing,
        "amendable": task.mode is Mode.AMEND,
        "csrf": csrf_token(runtime, token),
        "notice": notice,
        "context": opened.context,
        "earlier": _earlier_views(opened, tr, dates),
        "submitted": opened.submitted,
        "draft": opened.data_is_draft,
        "label": lambda value: tr(CHOICE_LABELS.get(value, value)),
        "amend_href": lang_query(request, edit="1"),
        "self_href": lang_query(request),
    }
    return page(request, "forms/task.html", context, language, status)


# --- HTML -----------------------------------------------------------------------------------------


@router.get("/t/{token}", response_class=HTMLResponse, include_in_schema=False)
def show_form(token: str, request: Request, runtime: RuntimeDep, language: LanguageDep) -> Response:
    try:
        opened = open_task(runtime, token)
    except LinkRefused as exc:
        return link_problem_page(request, language, exc.reason, posted=False)
    except Forbidden as exc:
        return _refusal_page(request, language, exc)
    tr = _gettext(language)
    notice = None
    if request.query_params.get("done") and opened.submitted is not None:
        notice = tr("Thank you. We have received your answer (version {version}).").format(
            version=opened.submitted.version
        )
    elif request.query_params.get("saved") and request.query_params.get("invited"):
        notice = tr("Your draft is saved, and you and the employee get a calendar invitation for the talk.")
    elif request.query_params.get("saved"):
        notice = tr("Your draft is saved. It is not submitted yet.")
    editing = True if request.query_params.get("edit") and opened.task.mode is Mode.AMEND else None
    return render_task(request, runtime, language, token, opened, editing=editing, notice=notice)


@router.post("/t/{token}", response_class=HTMLResponse, include_in_schema=False)
def post_form(token: str, request: Request, runtime: RuntimeDep, language: LanguageDep, form: FormData) -> Response:
    try:
        opened = open_task(runtime, token)
    except LinkRefused as exc:
        return link_problem_page(request, language, exc.reason, posted=True)
    except Forbidden as exc:
        return _refusal_page(request, language, exc)
    if opened.task.mode is Mode.READ:
        return link_problem_page(request, language, LinkReason.CLOSED, posted=True)
    tr = _gettext(language)
    if not _csrf_ok(runtime, token, form.get("csrf", "")):
        return message_page(
            request,
            language,
            tr("The form has expired"),
            [tr("Open the link from the email again and fill in the form there. Nothing was saved.")],
            403,
        )
    cls = form_class(opened.task.form_key)
    data = parse_form(cls, form)
    action = form.get("action", "submit")
    try:
        if action.startswith(ADD_ROW):
            lists = [part.name for part in layout_of(cls) if isinstance(part, ListSpec)]
            target = action.partition(":")[2] or (lists[0] if lists else "")
            return render_task(
                request, runtime, language, token, opened, data=data, extra_rows={target: 1}, editing=True
            )
        if action == "save_draft":
            saved = save_draft(runtime, token, data)
            query = lang_query(request, saved="1", **({"invited": "1"} if saved.invited else {}))
            return RedirectResponse("/t/" + token + query, status_code=303)
        submit_form(runtime, token, data)
    except FormRejected as exc:
        for name, rows in exc.restore.items():
            data[name] = [*data.get(name, []), *rows]
        return render_task(
            request, runtime, language, token, opened, data=data, problems=exc.problems, editing=True, status=422
        )
    except LinkRefused as exc:
        return link_problem_page(request, language, exc.reason, posted=True)
    except (Forbidden, Conflict) as exc:
        return _refusal_page(request, language, exc)
    return RedirectResponse("/t/" + token + lang_query(request, done="1"), status_code=303)


# --- JSON -----------------------------------------------------------------------------------------


def _api_refusal(reason: LinkReason, posted: bool, language: str) -> JSONResponse:
    status = 404 if reason is LinkReason.INVALID else (409 if posted else 410)
    messages = {
        LinkReason.INVALID: "This link does not work",
        LinkReason.REPLACED: "This link has been replaced",
        LinkReason.CANCELLED: "This task is no longer needed",
        LinkReason.EXPIRED: "This link has expired",
        LinkReason.CLOSED: "This task is closed",
    }
    return JSONResponse(
        {"detail": _gettext(language)(messages[reason]), "reason": reason.value, "new_link": "/link/new"},
        status_code=status,
    )


def _problems_json(problems: list[FormProblem], language: str) -> JSONResponse:
    tr = _gettext(language)
    detail = [{"loc": ["body", *p.loc], "msg": message_for(p, tr), "type": p.type} for p in problems]
    return JSONResponse({"detail": detail}, status_code=422)


def _json_default(value: object) -> Any:
    """What orjson does not serialise itself: the cycle's names in both languages (pydantic models)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_answer(payload: Any, status_code: int = 200) -> Response:
    """A JSON answer serialised by orjson: dataclasses, dates and enums as they are, in a fraction of
    the time ``jsonable_encoder`` and ``json`` take for a task's context and schema."""
    body = orjson.dumps(payload, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code=status_code, media_type="application/json")


def task_json(opened: OpenedTask) -> Response:
    task = opened.task
    return json_answer(
        {
            "task": {
                "id": task.id,
                "form": task.form_key,
                "step": {"key": task.step_key, "number": task.step_number, "name": task.step_name},
                "part": task.part_name,
                "unit": task.unit_name,
                "assignee": task.assignee_name,
                "employee": task.subject_name,
                "due_on": task.due_on,
                "state": task.state,
                "mode": task.mode.value,
                "cycle_year": task.cycle_year,
                "strategy_period": {"first_year": task.first_year, "last_year": task.last_year},
            },
            "context": opened.context,
            "schema": json_schema(task.form_key, opened.rules),
            "data": opened.data,
            "data_is_draft": opened.data_is_draft,
            "submitted": opened.submitted,
            "versions": opened.versions,
        }
    )


#: A task link's token. Not validated here: whatever a link holds is either ours or "not a link of
#: ours" (404 with what to do), as on the page; a 422 for a long token would tell a person nothing.
TokenPath = Annotated[
    str, Path(description=f"The token of the task's link; none of ours is longer than {MAX_TOKEN_LENGTH} characters")
]
LINK_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"model": LinkProblem, "description": "Not a link of ours"},
    410: {"model": LinkProblem, "description": "The link no longer works: replaced, cancelled, expired or closed"},
}


@router.get(
    "/api/t/{token}",
    summary="A task, the context it needs and its form's JSON Schema",
    responses={**LINK_REFUSED, **responses(403, 422)},
)
def api_show(token: TokenPath, runtime: RuntimeDep, language: LanguageDep) -> Response:
    try:
        opened = open_task(runtime, token)
    except LinkRefused as exc:
        return _api_refusal(exc.reason, posted=False, language=language)
    except Forbidden as exc:
        return JSONResponse({"detail": str(exc)}, status_code=403)
    return task_json(opened)


@router.post(
    "/api/t/{token}",
    summary="Submit (or with ?draft=true save) a task's form as JSON",
    responses={
        404: LINK_REFUSED[404],
        409: {"model": Problem, "description": "The link no longer takes input, or the task changed meanwhile"},
        **responses(403, 413, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "description": "The form's fields"}}},
        }
    },
)
async def api_submit(
    token: TokenPath,
    request: Request,
    runtime: RuntimeDep,
    language: LanguageDep,
    draft: Annotated[StrictFlag, Query(description="Save as a draft instead of submitting")] = False,
) -> Response:
    try:
        body = await posted_json(request)
    except BadJson:
        problem = FormProblem((), "json_invalid")
        return _problems_json([problem], language)
    return await run_in_threadpool(_api_submit, runtime, token, body, language, draft)


def _api_submit(runtime: Runtime, token: str, body: Any, language: str, draft: bool) -> Response:
    try:
        if draft:
            if not isinstance(body, dict):
                return _problems_json([FormProblem((), "model_type")], language)
            saved = save_draft(runtime, token, body)
            return json_answer({"draft": saved})
        receipt = submit_form(runtime, token, body)
    except FormRejected as exc:
        return _problems_json(exc.problems, language)
    except LinkRefused as exc:
        return _api_refusal(exc.reason, posted=True, language=language)
    except Forbidden as exc:
        return JSONResponse({"detail": str(exc)}, status_code=403)
    except Conflict as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    return json_answer({"receipt": receipt})
