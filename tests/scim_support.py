"""Shared helpers for the SCIM tests: an in-process client with a SCIM token, and a scim2-client engine
over it (scim2-client 0.13 has no engine for plain httpx, which Starlette's TestClient is)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from scim2_client import BaseSyncSCIMClient

from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.scim_access import issue_scim_token
from service.app import create_app

BASE = "http://testserver/scim/v2"
SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
UNIT = "urn:ietf:params:scim:schemas:extension:aarshjul:2.0:Group"
PERSON = "urn:ietf:params:scim:schemas:extension:aarshjul:2.0:User"


class ScimEngine(BaseSyncSCIMClient):
    """A scim2-client engine that sends its requests through a Starlette TestClient."""

    def __init__(self, client: TestClient, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.client.request(method, url, **kwargs)


@contextmanager
def scim_client(runtime: Runtime, token: str | None = None) -> Iterator[TestClient]:
    """A client of /scim/v2 sending a fresh SCIM token (or ``token``) and SCIM's media type, as Entra does."""
    token = token or issue_scim_token(runtime, "test", actor="test")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON, "Accept": SCIM_JSON}
    with TestClient(create_app(runtime), base_url=BASE, headers=headers, raise_server_exceptions=False) as client:
        yield client


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}
