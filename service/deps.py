"""Dependencies routes declare with ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from aarshjul.domain.enums import Language
from aarshjul.presentation.i18n import negotiate
from aarshjul.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """The dependencies that only read the request are ``async``: FastAPI runs a sync dependency on
    the threadpool, so each would cost a request a trip through the pool's queue (behind other
    requests' database work) and two thread switches before its route even starts
    (bench/http_submit.py)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """A read session for queries that build view models; use cases open their own transaction."""
    with runtime.sessions() as session:
        yield session


def get_language(request: Request) -> Language:
    """``?lang=`` wins, then the browser's Accept-Language, then the organisation's default language
    (``AARSHJUL_DEFAULT_LANGUAGE``; bokmål unless set)."""
    runtime: Runtime = request.app.state.runtime
    return negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language"), runtime.settings.default_language
    )


async def language_of(request: Request) -> Language:
    """``get_language`` as a dependency (async: see ``get_runtime``)."""
    return get_language(request)


async def read_form(request: Request) -> FormData:
    """The posted HTML form, read before a sync route runs (starlette caches it for the CSRF check)."""
    return await request.form()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
LanguageDep = Annotated[Language, Depends(language_of)]
PostedForm = Annotated[FormData, Depends(read_form)]
