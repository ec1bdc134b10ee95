"""The project installs from pyproject.toml alone, and uv.lock is the lock of that pyproject.toml.

The suite itself runs in .venv, which uv.lock fills with much more than the project declares (every
transitive dependency, the test extra). An import that pyproject.toml does not declare therefore works
there and breaks only for someone who runs ``pip install aarshjul``. So this builds the distribution
(sdist, then the wheel from the sdist, as an index would), installs it into an empty virtual environment
with the dependencies resolved from its metadata alone, and there imports every module, runs the
command line and checks the installed set is consistent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("aarshjul", "flows", "tasks", "forms", "service", "notifications")

pytestmark = pytest.mark.packaging

#: Run inside the clean environment: imports each module of the packages named in argv, depth first, and
#: prints one line per module that fails or that was found outside the environment (the source tree).
IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys, traceback
prefix = sys.prefix
count, problems = 0, []

def visit(name):
    global count
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        problems.append(f"{name}: {type(exc).__name__}: {exc}")
        return
    count += 1
    if not (getattr(module, "__file__", None) or "").startswith(prefix):
        problems.append(f"{name}: imported from {module.__file__}, not from the clean environment")
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        visit(f"{name}.{info.name}")

for package in sys.argv[1:]:
    visit(package)
print(f"imported {count} modules")
for line in problems:
    print(line)
sys.exit(1 if problems else 0)
"""


def _uv() -> str:
    """The uv that scripts/install put in .venv-tools (the pinned one), else one on PATH."""
    pinned = ROOT / ".venv-tools" / "bin" / "uv"
    found = str(pinned) if pinned.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: run scripts/install --test")
    return found


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH") and not k.startswith("AARSHJUL_")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(extra)
    return env


def _run(*command: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=600, check=False)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode != 0:
        command = " ".join("<script>" if "\n" in arg else arg for arg in result.args)
        pytest.fail(f"{command} exited {result.returncode}:\n{result.stdout}{result.stderr}", pytrace=False)
    return result.stdout


def _installed_package_files(site_packages: Path) -> set[str]:
    return {
        str(path.relative_to(site_packages))
        for package in PACKAGES
        for path in (site_packages / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def _source_package_files() -> set[str]:
    if (ROOT / ".git").exists():
        listed = _ok(_run("git", "ls-files", "--", *PACKAGES, cwd=ROOT)).splitlines()
        return {name for name in listed if (ROOT / name).is_file()}
    return {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_project_installs_from_pyproject_alone_and_every_module_imports(tmp_path: Path) -> None:
    uv = _uv()
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    _ok(_run(uv, "build", "--quiet", "--out-dir", str(dist), cwd=ROOT))
    (wheel,) = dist.glob("aarshjul-*.whl")
    _ok(_run(uv, "venv", "--quiet", "--python", sys.executable, str(venv), cwd=work))
    python = venv / "bin" / "python"
    _ok(_run(uv, "pip", "install", "--quiet", "--python", str(python), str(wheel), cwd=work))

    # -I: neither the working directory nor PYTHONPATH on sys.path, so only the installed copy can be found.
    imported = _ok(_run(str(python), "-I", "-c", IMPORT_EVERY_MODULE, *PACKAGES, cwd=work))
    assert imported.startswith("imported "), imported

    site_packages = Path(
        _ok(_run(str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=work)).strip()
    )
    missing = _source_package_files() - _installed_package_files(site_packages)
    assert not missing, f"in the source tree but not in the installed package: {sorted(missing)}"

    assert "usage: aarshjul" in _ok(_run(str(venv / "bin" / "aarshjul"), "--help", cwd=work))
    # The migrations are files Alembic loads by path: the installed copy must carry them.
    _ok(_run(str(venv / "bin" / "aarshjul"), "db", "upgrade", cwd=work, env=_env(AARSHJUL_DATA_DIR=str(work / "data"))))

    # Every installed distribution's requirements are met by what is installed (exit status 1 otherwise).
    _ok(_run(uv, "pip", "check", "--python", str(python), cwd=work))


def test_the_lock_is_the_lock_of_pyproject() -> None:
    """`uv sync --frozen` installs uv.lock without asking whether it is stale; this asks."""
    _ok(_run(_uv(), "lock", "--check", cwd=ROOT))
