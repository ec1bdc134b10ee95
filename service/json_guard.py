"""JSON request bodies that can be stored and shown again, checked before any route reads them.

Python's JSON parser takes ``NaN``, ``Infinity``, lone surrogates (``"\\ud800"``) and NULs, and
recurses on deep nesting. Stored in a draft, the first three break every later rendering of the task
(no encoder takes them) and PostgreSQL refuses a NUL in text; deep nesting exhausts the stack. This
middleware reads a JSON body (already bounded to 1 MB by ``LimitBodySize``), refuses such a body
with the API's own 422 answer (``json_invalid``) and hands an accepted body on unchanged.

The rule itself is ``aarshjul.domain.storable``; ``aarshjul db repair`` cleans rows stored before it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from aarshjul.domain import storable
from aarshjul.usecases.admin.provisioning import SCIM_PATH
from service.request_body import read_body, replaying

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class UnstorableJson(ValueError):
    """The JSON is well-formed, but holds something that could not be stored and shown again."""


def _no_constants(name: str) -> Any:
    raise UnstorableJson(f"{name} is not a number JSON allows")


def parse_json(body: bytes) -> Any:
    """Parse a request body by the rules above; ValueError (or UnstorableJson) when it breaks one."""
    try:
        value = json.loads(body, parse_constant=_no_constants)
    except RecursionError as exc:  # nesting deep enough to exhaust the parser's own stack
        raise UnstorableJson("nested too deeply") from exc
    try:
        storable.check(value)
    except storable.Unstorable as exc:
        raise UnstorableJson(str(exc)) from exc
    return value


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class JsonGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:  # the client went away
            return
        if body:
            try:
                parse_json(body)
            except UnstorableJson as exc:
                await _refuse(send, str(exc), scim=scope.get("path", "").startswith(SCIM_PATH + "/"))
                return
            except ValueError:
                pass  # malformed JSON: the route answers that in its own way
        await self.app(scope, replaying(body, receive), send)


async def _refuse(send: Send, reason: str, scim: bool) -> None:
    message = f"the JSON cannot be stored: {reason}"
    if scim:  # a SCIM client gets a SCIM Error (RFC 7644 §3.12), as for every other refusal there
        status, media_type = 400, b"application/scim+json"
        body: dict[str, Any] = {
            "schemas": [SCIM_ERROR],
            "status": "400",
            "scimType": "invalidSyntax",
            "detail": message,
        }
    else:
        status, media_type = 422, b"application/json"
        body = {"detail": [{"loc": ["body"], "msg": message, "type": "json_invalid"}]}
    payload = json.dumps(body).encode()
    headers = [(b"content-type", media_type), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
