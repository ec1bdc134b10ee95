"""Rendering pages from routes: one helper so every page gets its language, request path and
language links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse

from aarshjul.presentation.i18n import LANGUAGES
from aarshjul.presentation.templating import render
from aarshjul.settings import get_settings


def lang_query(request: Request, **extra: str) -> str:
    """A query string with ``extra`` and the language the request chose, if it chose one."""
    params = dict(extra)
    if request.query_params.get("lang"):
        params["lang"] = request.query_params["lang"]
    return ("?" + urlencode(params)) if params else ""


def language_links(request: Request, address: str | None = None) -> dict[str, str]:
    """For each language, this page's query string in that language. The other parameters stay, so
    switching language keeps, say, the board's filters. With ``address`` (a path and query), the
    links lead there instead of to the request's own address."""
    if address is None:
        path, params = "", request.query_params.multi_items()
    else:
        target = urlsplit(address)
        path, params = target.path, parse_qsl(target.query)
    kept = [(k, v) for k, v in params if k != "lang"]
    return {code.value: path + "?" + urlencode([*kept, ("lang", code.value)]) for code in LANGUAGES}


def zone_of(request: Request) -> ZoneInfo:
    """The organisation's time zone, from the settings of the runtime serving the request."""
    runtime = getattr(getattr(request.scope.get("app"), "state", None), "runtime", None)
    if runtime is not None:
        return runtime.settings.zone
    # A request that never reached the app (an ASGI middleware, a test) has no runtime: the settings
    # this process would build one from say which zone it is.
    return get_settings().zone


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    language: str,
    status_code: int = 200,
    *,
    address: str | None = None,
) -> HTMLResponse:
    """``address``: the page's own path and query when it answers a form posted elsewhere (a refused
    form shown again), so that the navigation and the language links are those of the page."""
    path = urlsplit(address).path if address is not None else request.url.path
    html = render(
        template,
        {**context, "request_path": path, "language_links": language_links(request, address)},
        language,
        zone_of(request),
    )
    return HTMLResponse(html, status_code=status_code, headers={"Content-Language": language})


def message_page(
    request: Request,
    language: str,
    title: str,
    paragraphs: list[str],
    status_code: int,
    link_href: str | None = None,
    link_text: str | None = None,
) -> HTMLResponse:
    return page(
        request,
        "message.html",
        {"title": title, "paragraphs": paragraphs, "link_href": link_href, "link_text": link_text},
        language,
        status_code,
    )
