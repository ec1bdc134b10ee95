"""Safe defaults that need no database: the settings, the templates under the CSP, the log filter."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from aarshjul.settings import ConfigurationError, Settings
from service.logs import RedactTokens, redact, redacted_log_config

TEMPLATES = Path(__file__).resolve().parents[2] / "service" / "templates"
SECRET = "k" * 20 + "0123456789abcdefghij"


def test_production_is_the_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SECRET)
    assert settings.environment == "production" and not settings.development
    assert Settings(data_dir=tmp_path, demo=True).development


def test_no_mail_backend_chosen_is_refused_outside_demo_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AARSHJUL_MAIL_BACKEND=smtp"):
        Settings(data_dir=tmp_path, secret_key=SECRET).check_for_start()
    Settings(data_dir=tmp_path, secret_key=SECRET, mail_backend="outbox").check_for_start()  # said on purpose
    Settings(data_dir=tmp_path, demo=True).check_for_start()


def test_mail_redirection_needs_a_development_environment(tmp_path: Path) -> None:
    redirect = {"mail_backend": "smtp", "mail_redirect_to": "test@example.no"}
    with pytest.raises(ConfigurationError, match="AARSHJUL_ENVIRONMENT=development"):
        Settings(data_dir=tmp_path, secret_key=SECRET, **redirect).check_for_start()  # type: ignore[arg-type]
    Settings(data_dir=tmp_path, secret_key=SECRET, environment="development", **redirect).check_for_start()  # type: ignore[arg-type]


def test_no_template_has_inline_script_or_style() -> None:
    """The Content-Security-Policy allows neither; styles live in /static."""
    found = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        if re.search(r"<script|<style|\sstyle=|\son[a-z]+=", text, re.IGNORECASE):
            found.append(template.name)
    assert found == []


@pytest.mark.parametrize(
    "line",
    [
        '127.0.0.1:5000 - "GET /t/eyJhIjoxfQ.c2lnbmF0dXJl HTTP/1.1" 200',
        '127.0.0.1:5000 - "POST /api/t/eyJhIjoxfQ.c2lnbmF0dXJl?draft=true HTTP/1.1" 200',
        '"GET /me/data/abc.def HTTP/1.1"',
        '"GET /me/follow-ups/abc.def HTTP/1.1"',
        "unhandled error on POST /plan-review/abc.def",
    ],
)
def test_link_tokens_are_cut_out_of_log_lines(line: str) -> None:
    cleaned = redact(line)
    assert "eyJhIjoxfQ" not in cleaned and "abc.def" not in cleaned and "[token]" in cleaned


def test_the_filter_rewrites_messages_and_tracebacks() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s"', ("ip", "GET", "/t/SECRET"), None
    )
    try:
        raise ValueError("bad link /t/SECRET2")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactTokens().filter(record)
    assert "SECRET" not in record.getMessage() and "SECRET2" not in (record.exc_text or "")
    config = redacted_log_config()
    assert all("redact_tokens" in handler["filters"] for handler in config["handlers"].values())
