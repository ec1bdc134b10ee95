"""Shared helpers for HR's tests: an app with a signed-in HR person and API tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import (
    MAX_TOKEN_DAYS,
    issue_api_token,
    issue_token_for_any_person,
    set_password,
)
from service.app import create_app

HR_EMAIL = "geir.hoyland@fjordvik.kommune.no"
HR_PASSWORD = "correct horse battery staple"
LEADER_EMAIL = "brit.aasen@fjordvik.kommune.no"  #: leads Helse og omsorg; not HR


@dataclass
class HrClients:
    client: TestClient  #: no credentials
    hr_token: str
    leader_token: str

    def api(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.hr_token}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise AssertionError("no CSRF token in the page")
    return found.group(1)


def sign_in(client: TestClient, email: str = HR_EMAIL, password: str = HR_PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token for later forms."""
    token = csrf_of(client.get("/hr/login").text)
    response = client.post(
        "/hr/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/hr/cycles"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/hr/cycles").text)


@contextmanager
def hr_clients(runtime: Runtime) -> Iterator[HrClients]:
    """The demo organisation must be loaded. Gives HR a password and tokens for HR and a leader."""
    set_password(runtime, HR_EMAIL, HR_PASSWORD)
    hr_token = issue_api_token(runtime, HR_EMAIL, label="test", days=MAX_TOKEN_DAYS)  # tests move through a year
    leader_token = issue_token_for_any_person(runtime, LEADER_EMAIL)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield HrClients(client, hr_token, leader_token)


ROOT = Path(__file__).resolve().parent.parent
HR_TEMPLATES = ROOT / "service" / "templates" / "hr"
HR_CODE = [*sorted((ROOT / "service" / "routes" / "hr").glob("*.py")), ROOT / "service" / "auth.py"]
_TEMPLATE_MSGID = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")
_CODE_MSGID = re.compile(r"""gettext\(\s*\w+,\s*"((?:[^"\\]|\\.)*)"\s*\)""")


def hr_msgids() -> set[str]:
    """Every message id HR's templates and routes pass to gettext literally, and those their code
    holds in tables (the notices, the audit log's names, the commands' error messages)."""
    found: set[str] = set()
    for template in HR_TEMPLATES.iterdir():
        found |= {a or b for a, b in _TEMPLATE_MSGID.findall(template.read_text(encoding="utf-8"))}
    for module in HR_CODE:
        found |= set(_CODE_MSGID.findall(module.read_text(encoding="utf-8")))
    from service.commands import FIELD_MESSAGES
    from service.html_forms import COMMAND_MESSAGES
    from service.routes.hr.audit import AUDIT_ACTIONS, AUDIT_GROUPS
    from service.routes.hr.common import NOTICES

    shown_by_code = {*NOTICES.values(), *AUDIT_ACTIONS.values(), *AUDIT_GROUPS.values()}
    return found | shown_by_code | FIELD_MESSAGES | set(COMMAND_MESSAGES.values())
