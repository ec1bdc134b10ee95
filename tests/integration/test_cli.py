"""The ``aarshjul`` command line against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aarshjul.cli import main
from aarshjul.clock import system_clock
from aarshjul.db.models import Person
from aarshjul.runtime import Runtime
from aarshjul.settings import get_settings
from aarshjul.usecases.admin.org_import import DEMO_ORG_FILE, DEMO_STRATEGY_FILE


@pytest.fixture
def cli_env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """Point the command line's settings at the test database."""
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", runtime.settings.resolved_database_url)
    monkeypatch.setenv("AARSHJUL_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY", runtime.settings.secret())
    get_settings.cache_clear()
    yield runtime
    get_settings.cache_clear()


def people(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Person)) or 0)


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        [],
        ["serve"],
        ["db", "upgrade"],
        ["org", "import"],
        ["strategy", "load"],
        ["cycle", "start"],
        ["cycle", "status"],
        ["sweep"],
        ["outbox"],
        ["hr", "token"],
        ["scim", "token"],
    ):
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--help"])
        assert exited.value.code == 0
        assert "usage: aarshjul" in capsys.readouterr().out


def test_db_upgrade_and_imports(cli_env: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["org", "import", str(DEMO_ORG_FILE), "--organisation", "Fjordvik kommune"]) == 0
    assert "61 new" in capsys.readouterr().out
    assert main(["strategy", "load", str(DEMO_STRATEGY_FILE)]) == 0
    assert "4 main goals, 4 competence areas" in capsys.readouterr().out
    assert people(cli_env) == 61


def test_a_bad_import_names_the_line_and_changes_nothing(
    cli_env: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "org.csv"
    bad.write_text(
        DEMO_ORG_FILE.read_text(encoding="utf-8")
        + "9999,Ola Nordmann,ola@fjordvik.kommune.no,NOWHERE,,,employee,nb,\n",
        encoding="utf-8",
    )
    assert main(["org", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Nothing was changed" in err
    assert 'org.csv line 63: person "ola@fjordvik.kommune.no" is in unknown unit "NOWHERE"' in err
    assert people(cli_env) == 0


def test_a_missing_file_is_a_clear_error(cli_env: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategy", "load", "/nonexistent/strategy.yaml"]) == 1
    assert "strategy.yaml: cannot read the file" in capsys.readouterr().err


def test_sweep_rejects_a_malformed_moment(cli_env: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "--now", "next tuesday"])
    assert exited.value.code == 2
    assert "not a date or datetime" in capsys.readouterr().err


def test_a_year_from_the_command_line(cli_env: Runtime, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Start a cycle, read its status as the API does, sweep a month on, read the outbox, get a token."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    assert main(["org", "import", str(DEMO_ORG_FILE), "--organisation", "Fjordvik kommune"]) == 0
    assert main(["strategy", "load", str(DEMO_STRATEGY_FILE)]) == 0
    starts_on = dt.date.today() + dt.timedelta(days=7)
    if starts_on.year > 2028:  # past the demo's strategy period: give the year one of its own
        later = tmp_path / "later.yaml"
        later.write_text(
            f"period: {{first_year: {starts_on.year}, last_year: {starts_on.year + 3}}}\n"
            "strategic_goals: [{code: SM1, title: Gode tjenester}]\n"
            "competence_areas: [{code: ENDRING, name: Endring, main_goal: Evne til endring}]\n"
        )
        assert main(["strategy", "load", str(later)]) == 0
    capsys.readouterr()

    assert main(["cycle", "start", "--year", str(starts_on.year), "--starts-on", starts_on.isoformat()]) == 0
    assert f"Started cycle 1 for {starts_on.year}" in capsys.readouterr().out
    assert main(["cycle", "start", "--year", str(starts_on.year), "--starts-on", starts_on.isoformat()]) == 1
    assert "error:" in capsys.readouterr().err  # the same year twice

    assert main(["hr", "token"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["cycle", "status", "--json"]) == 0
    from_cli = json.loads(capsys.readouterr().out)
    cli_env.clock = system_clock  # the command line reads the real clock; so does this service
    with TestClient(create_app(cli_env)) as client:
        from_api = client.get("/api/cycles/1/status", headers={"Authorization": f"Bearer {token}"})
    assert from_api.status_code == 200
    assert from_cli == from_api.json()
    assert main(["cycle", "status"]) == 0
    assert "Strategy review" in capsys.readouterr().out

    # The cycle starts next week: the sweep on its first morning opens the first step; later sweeps
    # remind before the first deadline and escalate after it.
    first_morning = dt.datetime.combine(starts_on, dt.time(8, 0)).isoformat()
    assert main(["sweep", "--now", first_morning]) == 0
    assert "Sweep as of" in capsys.readouterr().out
    for days in (15, 25):  # a week before the first deadline, and four days after it
        moment = dt.datetime.combine(starts_on + dt.timedelta(days=days), dt.time(8, 0)).isoformat()
        assert main(["sweep", "--now", moment]) == 0
    capsys.readouterr()
    assert main(["outbox", "--json"]) == 0
    outbox = json.loads(capsys.readouterr().out)
    templates = {m["template"] for m in outbox}
    assert {"task_invitation", "cycle_started"} <= templates
    assert {"task_reminder", "escalation_manager"} <= templates
    assert main(["outbox"]) == 0
    assert "task_invitation" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("secret", "message"),
    [(None, "AARSHJUL_SECRET_KEY is not set"), ("changeme", "AARSHJUL_SECRET_KEY is too weak")],
)
def test_serve_refuses_a_missing_or_weak_secret_outside_demo_mode(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    secret: str | None,
    message: str,
) -> None:
    monkeypatch.setenv("AARSHJUL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AARSHJUL_SECRET_KEY", raising=False)
    if secret is not None:
        monkeypatch.setenv("AARSHJUL_SECRET_KEY", secret)
    get_settings.cache_clear()
    try:
        assert main(["serve", "--port", "1"]) == 1
    finally:
        get_settings.cache_clear()
    assert message in capsys.readouterr().err
    assert not (tmp_path / "aarshjul.sqlite3").exists()  # refused before touching anything


def test_an_api_token_can_be_revoked(cli_env: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    from fastapi.testclient import TestClient

    from aarshjul.db.models import ApiToken
    from service.app import create_app

    assert main(["org", "import", str(DEMO_ORG_FILE)]) == 0
    assert main(["hr", "token", "--label", "script"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with cli_env.sessions() as session:
        token_id = session.scalars(select(ApiToken.id)).one()
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(cli_env)) as client:
        assert client.get("/api/audit", headers=headers).status_code == 200
        assert main(["hr", "token", "--revoke", str(token_id)]) == 0
        assert f"Revoked API token {token_id}" in capsys.readouterr().out
        assert client.get("/api/audit", headers=headers).status_code == 401
    assert main(["hr", "token", "--revoke", "999"]) == 1
    assert "error:" in capsys.readouterr().err


def test_serve_refuses_a_broken_cycle_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aarshjul.domain.cycle_spec import DEFAULT_DEFINITION_PATH

    broken = tmp_path / "cycle.yaml"
    broken.write_text(
        DEFAULT_DEFINITION_PATH.read_text(encoding="utf-8").replace("form: unit_goals", "form: unit_gaols")
    )
    monkeypatch.setenv("AARSHJUL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AARSHJUL_CYCLE_DEFINITION_PATH", str(broken))
    get_settings.cache_clear()
    try:
        assert main(["serve", "--demo", "--port", "1"]) == 1
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "cycle.yaml" in err and "unit_gaols" in err
    assert not (tmp_path / "aarshjul.sqlite3").exists()


def test_a_scim_token_is_printed_alone_on_the_last_line_and_can_be_revoked(
    cli_env: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app

    assert main(["scim", "token", "--label", "Entra ID"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("ascim_") and " " not in token
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(cli_env)) as client:
        assert client.get("/scim/v2/Users", headers=headers).status_code == 200
        assert client.get("/api/audit", headers=headers).status_code == 401  # not an HR token
        assert main(["scim", "token", "--list"]) == 0
        listed = capsys.readouterr().out.strip().splitlines()
        assert len(listed) == 1 and listed[0].startswith("1\t") and listed[0].endswith("live\tEntra ID")
        assert main(["scim", "token", "--revoke", "1"]) == 0
        assert "Revoked SCIM token 1" in capsys.readouterr().out
        refused = client.get("/scim/v2/Users", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/scim+json")
    assert main(["scim", "token", "--revoke", "1"]) == 1
    assert "revoked already" in capsys.readouterr().err


def test_sms_choices_are_shown_and_set_from_the_command_line(
    cli_env: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sms"]) == 0
    assert "task_reminder      email_only" in capsys.readouterr().out
    assert main(["sms", "task_reminder", "instead_of_email"]) == 0
    assert "task_reminder      instead_of_email" in capsys.readouterr().out
    assert main(["sms", "weekly_summary", "with_email"]) == 1
    assert "no SMS text" in capsys.readouterr().err
    assert main(["sms", "task_reminder"]) == 2
