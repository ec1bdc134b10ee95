"""A real OpenID Provider for the single sign-on tests: panva/oidc-provider (tests/oidc_provider, pinned
in its package-lock.json and installed by ``scripts/install --test``), run with node on a free local port.

``OpenIdProvider`` starts it for the redirect URIs of the service under test and drives its test
controls: the people who can sign in, who signs in next, and a one-shot change to the next ID token's
claims (wrong audience, expired, another nonce), signed again with the provider's own key so only that
claim is wrong. ``sign_on`` runs the whole code flow for a TestClient, the provider's part over HTTP.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from fastapi.testclient import TestClient
from pydantic import SecretStr

from aarshjul.settings import Settings

OP_DIR = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "aarshjul-test"
CLIENT_SECRET = "test-client-secret-not-a-real-one"
HR_GROUP = "hr-group-object-id"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OpenIdProvider:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def _control(self, path: str, body: dict[str, Any]) -> None:
        httpx.post(f"{self.issuer}/__test/{path}", json=body, timeout=5).raise_for_status()

    def add_user(self, user_id: str, email: str, groups: list[str] | None = None) -> None:
        self._control("users", {"id": user_id, "email": email, "name": user_id, "groups": groups or []})

    def next_login(self, user_id: str) -> None:
        self._control("next-login", {"id": user_id})

    def tamper_next_id_token(self, **claims: Any) -> None:
        self._control("tamper-next", claims)

    def settings_for(self, settings: Settings, hr_group: str | None = HR_GROUP) -> Settings:
        return settings.model_copy(
            update={
                "oidc_issuer": self.issuer,
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": SecretStr(CLIENT_SECRET),
                "oidc_hr_group": hr_group,
                "oidc_scopes": "openid email profile groups",
                "oidc_name": "Testleverandøren",
            }
        )


@contextmanager
def running_provider(base_urls: list[str]) -> Iterator[OpenIdProvider]:
    """The provider, with ``{base_url}/hr/oidc/callback`` registered for each base URL."""
    node = shutil.which("node")
    if node is None or not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("the test OpenID Provider is not installed: run scripts/install --test")
    port = _free_port()
    env = {
        "PATH": str(Path(node).parent),
        "OP_PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URIS": ",".join(f"{b}/hr/oidc/callback" for b in base_urls),
        "POST_LOGOUT_REDIRECT_URIS": ",".join(f"{b}/hr/login" for b in base_urls),
    }
    process = subprocess.Popen(
        [node, "op.js"], cwd=OP_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"the test OpenID Provider did not start: {output}")
            time.sleep(0.1)
        provider = OpenIdProvider(issuer)
        provider.add_user("hr", "geir.hoyland@fjordvik.kommune.no", [HR_GROUP, "staff"])
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def through_provider(authorize_url: str, service_base: str) -> str:
    """Follow the provider's redirects (sign-in and consent answer at once) from the authorization
    URL until it sends the browser back to the service; returns that URL (the callback, with its query)."""
    with httpx.Client(timeout=10) as browser:  # its own cookie jar: the provider's session
        url = authorize_url
        for _ in range(10):
            if url.startswith(service_base):
                return url
            response = browser.get(url)
            assert response.status_code in (302, 303), (response.status_code, response.text[:500])
            url = urljoin(url, response.headers["location"])
    raise AssertionError("the provider never sent the browser back")


def sign_on(client: TestClient, user_id: str, next_url: str | None = None) -> httpx.Response:
    """Single sign-on as ``user_id`` through the real provider; the service's answer to the callback."""
    params = {"next": next_url} if next_url else {}
    started = client.get("/hr/oidc/login", params=params, follow_redirects=False)
    assert started.status_code == 303, started.text
    callback = through_provider(f"{started.headers['location']}&login_hint={user_id}", str(client.base_url))
    return client.get(callback.removeprefix(str(client.base_url)), follow_redirects=False)
