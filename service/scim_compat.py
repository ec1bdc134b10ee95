"""Microsoft Entra ID's known departures from RFC 7643/7644, mended before scim2-models reads the body.

Each of these was seen refused by scim2-models 0.12 without the mending (Microsoft documents them in
"Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra user provisioning
service"):

1. A Group carries the extra schema ``http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group``
   (not a URN, and no schema of ours): schema URIs that are not URNs are dropped.
2. Without the ``aadOptscim062020`` feature flag, Entra removes members with
   ``{"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}``, which the RFC forbids (a remove
   carries no value): it becomes one ``remove members[value eq "<id>"]`` per member.
3. The enterprise ``manager`` arrives as a bare id string; the RFC has ``{"value": id, "$ref": uri}``.

Capitalised operation names (``"Replace"``), ``"False"`` as a string, path-less replaces with dotted
keys and ``"$ref": null`` on members are all accepted by scim2-models as they are.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from service.request_body import read_body, replaying

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MANAGER_PATH = f"{ENTERPRISE}:manager".lower()


def _manager(value: Any) -> Any:
    if isinstance(value, str):
        value = {"value": value}
    if isinstance(value, dict) and value.get("value") and not value.get("$ref"):
        value = {**value, "$ref": f"../Users/{value['value']}"}
    return value


def mend_resource(payload: dict[str, Any]) -> dict[str, Any]:
    if isinstance(payload.get("schemas"), list):
        # Only strings that are not URNs go; anything else stays for the model to refuse.
        payload["schemas"] = [s for s in payload["schemas"] if not isinstance(s, str) or s.startswith("urn:")]
    enterprise = payload.get(ENTERPRISE)
    if isinstance(enterprise, dict) and enterprise.get("manager") is not None:
        enterprise["manager"] = _manager(enterprise["manager"])
    return payload


def mend_patch(payload: dict[str, Any]) -> dict[str, Any]:
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    mended: list[Any] = []
    for operation in operations:
        if not isinstance(operation, dict):
            mended.append(operation)
            continue
        name = str(operation.get("op", "")).lower()
        path = operation.get("path")
        value = operation.get("value")
        if name == "remove" and isinstance(path, str) and path.lower() == "members" and isinstance(value, list):
            for member in value:
                member_id = member.get("value") if isinstance(member, dict) else None
                if isinstance(member_id, str):
                    mended.append({"op": "remove", "path": f"members[value eq {json.dumps(member_id)}]"})
            continue
        if isinstance(path, str) and path.lower() == MANAGER_PATH:
            operation = {**operation, "value": _manager(value)}
        elif path is None and isinstance(value, dict):
            if value.get(f"{ENTERPRISE}:manager") is not None:
                value[f"{ENTERPRISE}:manager"] = _manager(value[f"{ENTERPRISE}:manager"])
            if isinstance(value.get(ENTERPRISE), dict):
                mend_resource({ENTERPRISE: value[ENTERPRISE]})
        mended.append(operation)
    payload["Operations"] = mended
    return payload


class EntraCompatibility:
    """ASGI middleware: rewrites the JSON body of POST, PUT and PATCH requests under ``prefix``. A body
    that is not JSON is passed on untouched, for the route to answer with a SCIM error."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT", "PATCH")
            or not str(scope["path"]).startswith(self.prefix + "/")
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:  # the client went away
            return
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            data = mend_patch(data) if scope["method"] == "PATCH" else mend_resource(data)
            body = json.dumps(data).encode()
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replaying(body, receive), send)
