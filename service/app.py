"""The web service: assignees' forms, HR's board, the JSON API. Routes parse, call a use case, render.

``create_app(runtime)`` serves a runtime built by its caller (``aarshjul serve``, the tests).
``create_app()`` is the factory for any number of web processes on a shared database and Prefect
server: ``uvicorn --factory --workers 4 service.app:create_app`` (or ``aarshjul serve --web-only``).
It builds the runtime from the environment, refuses a database that is not migrated (it never
migrates: ``aarshjul db upgrade`` is the release step) and starts flow runs on ``PREFECT_API_URL``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aarshjul.db.engine import pool_size_for
from aarshjul.db.migrate import check_current
from aarshjul.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from aarshjul.presentation.i18n import gettext
from aarshjul.runtime import Runtime
from aarshjul.settings import ConfigurationError, get_settings
from aarshjul.usecases.admin.provisioning import SCIM_PATH
from aarshjul.usecases.planning.versions import MAX_MINUTES_BYTES
from service.deps import get_language
from service.json_guard import JsonGuard
from service.pages import message_page
from service.routes.scim import error_response, is_scim
from service.scim_compat import EntraCompatibility
from service.security_headers import SecurityHeaders
from service.triggers import PrefectTriggers

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
#: Where a file comes with the request (the consultation's minutes as a PDF), and how large it may be.
UPLOAD_PATHS = re.compile(r"^(/api)?/plan/versions/\d{1,9}/consultation(/minutes\.pdf)?$")
MAX_UPLOAD_BYTES = MAX_MINUTES_BYTES + 256 * 1024
#: PostgreSQL's SQLSTATE for a number out of its column type's range.
NUMBER_OUT_OF_RANGE = "22003"
STATIC = Path(__file__).resolve().parent / "static"


class BodyTooLarge(Exception):
    pass


class LimitBodySize:
    """Refuse bodies over 1 MB with 413, whether or not the client sent Content-Length."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_UPLOAD_BYTES if UPLOAD_PATHS.match(scope.get("path", "")) else self.limit
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        # Bytes' isdigit is ASCII only, so int() cannot fail on what passes it.
        if declared is not None and declared.isdigit() and len(declared) < 20 and int(declared) > limit:
            await _too_large(scope, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await _too_large(scope, send)


async def _too_large(scope: Scope, send: Send) -> None:
    path = scope.get("path", "")
    if is_scim(path):
        body = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"413","detail":"larger than 1 MB"}'
        content_type = b"application/scim+json"
    elif path.startswith("/api/"):
        body = b'{"detail":[{"loc":["body"],"msg":"the request body is larger than 1 MB","type":"too_large"}]}'
        content_type = b"application/json"
    else:
        language = get_language(Request(scope))
        title = gettext(language, "The request is too large")
        text_ = gettext(language, "What you sent is larger than 1 MB. Shorten the text and try again.")
        body = f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{text_}</p>".encode()
        content_type = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body})


HEALTH = {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}}}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz" or is_scim(request.url.path)


def web_runtime() -> Runtime:
    """The runtime of a web process started by a process manager: settings from the environment."""
    settings = get_settings()
    if settings.demo:
        # The demo seeds, migrates and shows /dev/outbox in one process of its own (``aarshjul serve --demo``).
        raise ConfigurationError("AARSHJUL_DEMO is for `aarshjul serve --demo` alone; a web process never runs it")
    settings.check_for_start()
    api_url = os.environ.get("PREFECT_API_URL", "").rstrip("/")
    if not api_url:
        raise ConfigurationError(
            "a web process started on its own needs PREFECT_API_URL: the Prefect server whose workers run the "
            "flows (or run `aarshjul serve` to have one started here)"
        )
    runtime = Runtime.from_settings(settings)
    check_current(runtime.engine)
    runtime.triggers = PrefectTriggers(runtime, api_url)
    return runtime


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """The app for ``runtime``; without one (``uvicorn --factory``) for ``web_runtime()``."""
    built_here = runtime is None
    runtime = web_runtime() if runtime is None else runtime

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every route that touches the database runs on a worker thread and holds a pooled connection
        # for its whole life; as many threads as connections (sized for the machine) means a burst waits
        # in one queue, in order, instead of in the pool's or SQLite's (bench/http_submit.py).
        to_thread.current_default_thread_limiter().total_tokens = pool_size_for()
        yield
        if built_here and isinstance(runtime.triggers, PrefectTriggers):
            runtime.triggers.wait(timeout=5.0)  # a clean stop does not drop the runs being asked for
            runtime.engine.dispose()

    # The OpenAPI document is HR's (``/api/openapi.json`` with a token or session, see routes/hr/api);
    # no interactive docs page: it would need inline script and a third-party CDN.
    app = FastAPI(
        lifespan=lifespan,
        title="Årshjul",
        description="The yearly strategic competence cycle: forms, status board, competence plan.",
        version="0.1.0",
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    # The last added runs first: headers on every answer, then the size limit, then the JSON check,
    # then Entra ID's departures from SCIM mended.
    app.add_middleware(EntraCompatibility, prefix=SCIM_PATH)
    app.add_middleware(JsonGuard)
    app.add_middleware(LimitBodySize)
    app.add_middleware(SecurityHeaders, https=runtime.settings.base_url.startswith("https://"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get(
        "/healthz",
        tags=["health"],
        responses={
            200: {"content": {"application/json": {"schema": HEALTH}}, "description": "The database answers"},
            503: {"content": {"application/json": {"schema": HEALTH}}, "description": "The database does not answer"},
        },
    )
    def healthz() -> JSONResponse:
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("health check failed: %s", exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    _install_error_handlers(app)
    _include_routers(app)
    return app


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Starlette's own 405 names only the first route
    that matched the path, and GET and POST of one path are often two routes."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _include_routers(app: FastAPI) -> None:
    from service.routes import ROUTERS

    for router in ROUTERS:
        app.include_router(router)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        if is_scim(request.url.path):  # an unknown address or method under /scim/v2: a SCIM Error
            return error_response(exc.status_code, str(exc.detail), headers=headers)
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
        language = get_language(request)
        if exc.status_code == 404:
            return message_page(
                request,
                language,
                gettext(language, "Page not found"),
                [
                    gettext(
                        language,
                        "There is no page at this address. Check the address, or go back to the email you came from.",
                    )
                ],
                404,
            )
        return HTMLResponse(
            f"<!doctype html><meta charset=utf-8><h1>{exc.status_code}</h1>", exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if not _wants_json(request):
            # A page's address or form holds a value its typed parameters refuse (a hand-edited
            # address, say): a page in the reader's language, not the API's JSON.
            language = get_language(request)
            title = gettext(language, "Something in the request is not valid")
            text_ = gettext(
                language, "The address or the form holds a value this page cannot use. Go back and try again."
            )
            return message_page(request, language, title, [text_], 422)
        errors = [
            {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        status = 400
        if isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Conflict):
            status = 409
        elif isinstance(exc, Forbidden):
            status = 403
        elif isinstance(exc, InvalidInput):
            status = 422
            return JSONResponse(
                {"detail": [{"loc": ["body", *exc.field.split(".")], "msg": exc.reason, "type": "invalid"}]},
                status_code=status,
            )
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        if getattr(exc.orig, "sqlstate", None) == NUMBER_OUT_OF_RANGE:
            # The edge takes any 64-bit id; PostgreSQL's INTEGER columns end at 2**31 - 1, and an id
            # past them names nothing stored: "no such thing", as on SQLite.
            return await http_error(request, StarletteHTTPException(404))
        raise exc  # any other: the unexpected error it is (below)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _wants_json(request):
            return JSONResponse({"detail": "internal error; nothing was saved"}, status_code=500)
        language = get_language(request)
        return message_page(
            request,
            language,
            gettext(language, "Something went wrong"),
            [
                gettext(
                    language,
                    "We could not complete the request. Nothing you typed has been lost if you go back; "
                    "try again in a minute. If it keeps happening, contact HR.",
                )
            ],
            500,
        )
