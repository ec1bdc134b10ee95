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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aarshjul.domain import storable


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
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if body:
            try:
                parse_json(body)
            except UnstorableJson as exc:
                await _refuse(send, str(exc))
                return
            except ValueError:
                pass  # malformed JSON: the route answers that in its own way
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, reason: str) -> None:
    detail = {"detail": [{"loc": ["body"], "msg": f"the JSON cannot be stored: {reason}", "type": "json_invalid"}]}
    payload = json.dumps(detail).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
