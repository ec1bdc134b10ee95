"""What the JSON API answers when it refuses, as documented models, so the OpenAPI document lists
every status an operation can answer with the body that comes with it.

- ``Problem``: ``{"detail": "..."}``, for 401, 403, 404, 409 (``HTTPException`` and domain errors).
- ``Problems``: ``{"detail": [{"loc", "msg", "type"}]}``, for 413 and 422 (the request's shape, a
  value a use case refuses, JSON that cannot be stored).
- ``LinkProblem``: a task link that no longer works, with the reason and where to get a new one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problems(BaseModel):
    detail: list[FieldProblem]


class LinkProblem(BaseModel):
    detail: str
    reason: str
    new_link: str


DESCRIPTIONS = {
    400: "The body could not be read",
    401: "No credentials, or an unknown, revoked or expired API token",
    403: "Not HR, or (with the session cookie) a missing X-CSRF-Token",
    404: "No such thing",
    409: "It conflicts with the current state",
    410: "The link no longer works",
    413: "The body is larger than 1 MB",
    422: "The request or a value in it is refused; each problem names its place",
}
_MODELS: dict[int, type[BaseModel]] = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    413: Problems,
    422: Problems,
}
_WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}


def responses(*statuses: int, models: dict[int, type[BaseModel]] | None = None) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of an operation for these error statuses (``models`` overrides the body)."""
    chosen = {**_MODELS, **(models or {})}
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": chosen[status], "description": DESCRIPTIONS[status]}
        if status == 401:
            entry["headers"] = _WWW_AUTHENTICATE
        documented[status] = entry
    return documented


#: Every HR operation: authentication, the body's size and shape, and the use cases' refusals.
HR_ERRORS = responses(400, 401, 403, 404, 409, 413, 422)
