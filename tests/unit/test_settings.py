from __future__ import annotations

from pathlib import Path

import pytest

from aarshjul.settings import ConfigurationError, Settings


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'aarshjul.sqlite3').resolve()}"
    assert settings.mail_backend == "outbox"
    assert settings.time_zone == "Europe/Oslo"
    assert settings.prefect_home == (tmp_path / "prefect").resolve()


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AARSHJUL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AARSHJUL_BASE_URL", "https://aarshjul.fjordvik.no/")
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = Settings()
    assert settings.base_url == "https://aarshjul.fjordvik.no"
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"


def test_a_missing_secret_stops_the_start_outside_demo_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AARSHJUL_SECRET_KEY is not set"):
        Settings(data_dir=tmp_path).check_for_start()


@pytest.mark.parametrize("weak", ["changeme", "short-secret", "a" * 40])
def test_a_weak_secret_stops_the_start(tmp_path: Path, weak: str) -> None:
    with pytest.raises(ConfigurationError, match="too weak"):
        Settings(data_dir=tmp_path, secret_key=weak).check_for_start()


def test_demo_mode_keeps_a_generated_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, demo=True)
    settings.check_for_start()
    assert len(settings.secret()) >= 32
    assert Settings(data_dir=tmp_path, demo=True).secret() == settings.secret()


def test_sendgrid_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SENDGRID_API_KEY"):
        Settings(data_dir=tmp_path, demo=True, mail_backend="sendgrid").check_for_start()


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, time_zone="Europe/Atlantis")
