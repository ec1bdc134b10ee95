"""Web processes on their own: ``aarshjul serve --web-only`` and ``uvicorn --factory service.app:create_app``.

They start no Prefect server and no runner, never migrate, send flow runs to PREFECT_API_URL, and
(like the one-machine service) put the port they listen on into links unless AARSHJUL_BASE_URL is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from aarshjul.cli import _listening_on, main
from aarshjul.db.engine import make_engine
from aarshjul.db.migrate import SchemaNotCurrent
from aarshjul.runtime import Runtime
from aarshjul.settings import ConfigurationError, Settings, get_settings
from service.app import create_app
from service.triggers import PrefectTriggers
from tests.conftest import TEST_SECRET

PREFECT = "http://127.0.0.1:9/api"  # nothing listens there; no test here starts a run


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A web host's environment: the secret, a mail relay, an (empty) SQLite database, no base URL, no Prefect."""
    for name in [*os.environ, "AARSHJUL_BASE_URL"]:  # the base URL too: the command line may set it
        if name.startswith(("AARSHJUL_", "PREFECT_API_URL")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AARSHJUL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("AARSHJUL_MAIL_BACKEND", "smtp")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``uvicorn.run`` was asked to serve (the command line's wiring; the e2e tests serve for real)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append({"app": app, **options}))
    return calls


def _tables(data_dir: Path) -> list[str]:
    engine = make_engine(f"sqlite:///{data_dir / 'aarshjul.sqlite3'}")
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_web_only_needs_a_prefect_server_and_is_not_the_demo(
    environment: Path, capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]]
) -> None:
    assert main(["serve", "--web-only"]) == 1
    assert "PREFECT_API_URL" in capsys.readouterr().err
    assert main(["serve", "--web-only", "--demo"]) == 1
    assert "--demo runs everything in one process" in capsys.readouterr().err
    assert main(["serve", "--workers", "2"]) == 1
    assert "--workers is for --web-only" in capsys.readouterr().err
    assert served == []


def test_a_web_process_never_migrates(
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    served: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", PREFECT)
    assert main(["serve", "--web-only"]) == 1
    assert "run `aarshjul db upgrade`" in capsys.readouterr().err
    with pytest.raises(SchemaNotCurrent):
        create_app()
    assert served == [] and "alembic_version" not in _tables(environment)

    assert main(["db", "upgrade"]) == 0  # the release step
    assert main(["serve", "--web-only", "--port", "8531", "--workers", "3"]) == 0
    (call,) = served
    assert call["app"] == "service.app:create_app" and call["factory"] is True and call["workers"] == 3
    assert call["port"] == 8531 and call["proxy_headers"] is False
    assert "running at http://127.0.0.1:8531; flow runs go to http://127.0.0.1:9/api" in capsys.readouterr().out
    # The web processes uvicorn starts read the base URL with the port from the environment.
    assert os.environ["AARSHJUL_BASE_URL"] == "http://127.0.0.1:8531"


def test_the_factory_builds_a_web_process_from_the_environment(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["db", "upgrade"]) == 0
    with pytest.raises(ConfigurationError, match="PREFECT_API_URL"):
        create_app()
    monkeypatch.setenv("PREFECT_API_URL", PREFECT + "/")
    app = create_app()
    runtime: Runtime = app.state.runtime
    assert isinstance(runtime.triggers, PrefectTriggers) and runtime.triggers.api_url == PREFECT
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/link/new").status_code == 200
        assert client.get("/dev/outbox").status_code == 404  # production: no demo pages


def test_a_web_process_keeps_the_production_rules(
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    served: list[dict[str, Any]],
) -> None:
    """No demo in a web process, and no start without a chosen mail backend, whichever way it starts."""
    assert main(["db", "upgrade"]) == 0
    monkeypatch.setenv("PREFECT_API_URL", PREFECT)
    monkeypatch.setenv("AARSHJUL_DEMO", "true")
    get_settings.cache_clear()
    assert main(["serve", "--web-only"]) == 1
    assert "--demo runs everything in one process" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="AARSHJUL_DEMO"):
        create_app()

    monkeypatch.delenv("AARSHJUL_DEMO")
    monkeypatch.delenv("AARSHJUL_MAIL_BACKEND")
    get_settings.cache_clear()
    assert main(["serve", "--web-only"]) == 1
    assert "AARSHJUL_MAIL_BACKEND" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="AARSHJUL_MAIL_BACKEND"):
        create_app()
    assert served == []


@pytest.mark.parametrize(
    ("host", "port", "base_url"),
    [
        ("127.0.0.1", 8531, "http://127.0.0.1:8531"),
        ("0.0.0.0", 8531, "http://127.0.0.1:8531"),  # listening everywhere: this host is reachable here
        ("aarshjul.local", 80, "http://aarshjul.local:80"),
        ("::1", 8000, "http://[::1]:8000"),
    ],
)
def test_links_follow_the_port_unless_the_base_url_is_set(
    environment: Path, host: str, port: int, base_url: str
) -> None:
    assert _listening_on(Settings(secret_key=TEST_SECRET), host, port).base_url == base_url
    configured = Settings(secret_key=TEST_SECRET, base_url="https://aarshjul.fjordvik.no")
    assert _listening_on(configured, host, port).base_url == "https://aarshjul.fjordvik.no"
