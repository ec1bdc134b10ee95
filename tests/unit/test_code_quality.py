"""Lint, format and types are part of the suite, so a regression fails it like any other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: The packages mypy checks; a cold run takes about 15 s, a warm one about 2 s.
TYPED_PACKAGES = ("aarshjul", "forms", "service", "notifications", "flows", "tasks")


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("command", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"])
def test_ruff_is_clean(command: tuple[str, ...]) -> None:
    result = _run(str(BIN / "ruff"), *command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run(str(BIN / "mypy"), *TYPED_PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr
