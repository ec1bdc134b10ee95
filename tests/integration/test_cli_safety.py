"""The command line's safe defaults: HR people and passwords without --demo, --demo kept to its own
database, a refusal to serve with no mail backend chosen, owner-only files, and the repair of stored
values no page could show."""

from __future__ import annotations

import io
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from aarshjul.cli import main
from aarshjul.db.models import Submission
from aarshjul.runtime import Runtime
from aarshjul.settings import get_settings
from aarshjul.usecases.admin.hr_access import SignInOutcome, sign_in
from aarshjul.usecases.admin.org_import import DEMO_ORG_FILE
from service.app import create_app
from tests.builders import task_for
from tests.hr_support import HR_EMAIL

NEW_PASSWORD = "a long new password for hr"


@pytest.fixture
def cli_env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", runtime.settings.resolved_database_url)
    monkeypatch.setenv("AARSHJUL_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY", runtime.settings.secret())
    get_settings.cache_clear()
    yield runtime
    get_settings.cache_clear()


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_hr_people_and_passwords_from_the_command_line(
    cli_env: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["org", "import", str(DEMO_ORG_FILE), "--organisation", "Fjordvik kommune"]) == 0
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["hr", "set-password", HR_EMAIL, "--stdin"]) == 0
    assert sign_in(cli_env, HR_EMAIL, NEW_PASSWORD, "cli").outcome is SignInOutcome.OK
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["hr", "add", "ny.hr@fjordvik.kommune.no", "--name", "Ny HR"]) == 0  # stdin is not a terminal
    assert sign_in(cli_env, "ny.hr@fjordvik.kommune.no", NEW_PASSWORD, "cli").outcome is SignInOutcome.OK
    _stdin(monkeypatch, "short\n")
    assert main(["hr", "set-password", HR_EMAIL]) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["hr", "set-password", "brit.aasen@fjordvik.kommune.no"]) == 1  # a leader, not HR


def test_demo_refuses_a_database_it_did_not_create(
    cli_env: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["org", "import", str(DEMO_ORG_FILE), "--organisation", "Fjordvik kommune"]) == 0
    _stdin(monkeypatch, NEW_PASSWORD + "\n")
    assert main(["hr", "set-password", HR_EMAIL]) == 0
    assert main(["serve", "--demo", "--port", "1"]) == 1
    assert "--demo runs only on an empty database" in capsys.readouterr().err
    # The real password still works: nothing was reset to the published demo password.
    assert sign_in(cli_env, HR_EMAIL, NEW_PASSWORD, "cli").outcome is SignInOutcome.OK


def test_serving_without_a_mail_backend_is_refused_with_the_setting_named(
    cli_env: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AARSHJUL_MAIL_BACKEND", raising=False)
    assert main(["serve", "--port", "1"]) == 1
    assert "AARSHJUL_MAIL_BACKEND" in capsys.readouterr().err


def test_files_the_service_creates_are_for_its_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AARSHJUL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AARSHJUL_DATABASE_URL", raising=False)
    monkeypatch.setenv("AARSHJUL_SECRET_KEY", "s" * 20 + "0123456789abcdefghij")
    get_settings.cache_clear()
    previous = os.umask(0o022)
    try:
        assert main(["db", "upgrade"]) == 0
        from aarshjul.settings import Settings

        Settings(data_dir=tmp_path / "data", demo=True, secret_key=None).secret()
    finally:
        os.umask(previous)
        get_settings.cache_clear()
    for path in [tmp_path / "data" / "aarshjul.sqlite3", tmp_path / "data" / "demo-secret"]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_repair_makes_a_broken_task_open_again(cli_env: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    task = task_for(cli_env, "strategy_review")
    client = TestClient(create_app(cli_env), raise_server_exceptions=False)
    assert client.post(f"/api/t/{task.token}?draft=true", json={"overall_comment": "ok"}).status_code == 200
    # As stored before the edge refused it: a lone surrogate, a NUL and a number that is not finite.
    broken = {"overall_comment": "bad \ud800 text\x00", "x": float("nan")}
    if cli_env.engine.dialect.name == "postgresql":
        broken["x"] = None  # PostgreSQL's json type refuses NaN outright: it can never have been stored there
    with cli_env.sessions.begin() as session:
        session.execute(update(Submission).where(Submission.task_id == task.id).values(data=broken))
    assert main(["db", "repair"]) == 0
    assert "submission.data: 1" in capsys.readouterr().out
    with cli_env.sessions() as session:
        data = session.scalars(select(Submission.data).where(Submission.task_id == task.id)).one()
    assert data == {"overall_comment": "bad \ufffd text", "x": None}
    assert client.get(f"/t/{task.token}").status_code == 200
    assert client.get(f"/api/t/{task.token}").status_code == 200
    assert main(["db", "repair"]) == 0
    assert "nothing to repair" in capsys.readouterr().out


def test_an_error_after_prefect_started_still_stops_it(cli_env: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception between starting Prefect and serving (an import error, say) stops Prefect on its way out."""
    stopped: list[bool] = []

    class Started:
        api_url = "http://127.0.0.1:1/api"
        owns_server = False
        ui_url = "http://127.0.0.1:1"

        def stop(self) -> None:
            stopped.append(True)

    def broken_app(runtime: Runtime) -> None:
        raise ImportError("a module the app needs is missing")

    monkeypatch.setenv("AARSHJUL_MAIL_BACKEND", "outbox")
    monkeypatch.setattr("flows.serve.start_prefect", lambda settings: Started())
    monkeypatch.setattr("service.app.create_app", broken_app)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(ImportError):
            main(["serve", "--port", "1"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stopped == [True]
