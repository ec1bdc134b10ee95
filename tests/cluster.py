"""Årshjul as it runs at scale, on one machine: PostgreSQL, a Prefect server, the work pool from
``prefect.yaml`` with process workers, and web processes started with ``aarshjul serve --web-only``
or ``uvicorn --factory service.app:create_app``. Every part is a separate process started the way
docs/operations.md tells an operator to; mail goes over SMTP to a catcher in this process.

Used by the end-to-end test (tests/e2e/test_scale_out.py) and the benchmark (bench/scale_out.py).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text
from sqlalchemy.engine import make_url

from aarshjul.db.engine import make_engine

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET = "scale-out-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
LINK = re.compile(r"https?://[^\s\"<>]+/t/[A-Za-z0-9._~-]+")
STARTUP_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> float:
    """Poll until ``predicate()`` is true; returns the seconds it took, raises TimeoutError naming ``what``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError(f"{what} within {timeout:.0f} s")


@contextmanager
def postgres_database(server_url: str, name: str) -> Iterator[str]:
    """A database of its own on the PostgreSQL server at ``server_url``; dropped afterwards."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class CaughtMail:
    to: str
    subject: str
    idempotency_key: str
    links: list[str]
    at: float  #: time.time() when it arrived


class _Catcher:
    def __init__(self) -> None:
        self.messages: list[CaughtMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        message = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text_body = body.get_content() if body is not None else ""
        caught = CaughtMail(
            to=", ".join(envelope.rcpt_tos),
            subject=str(message.get("Subject", "")),
            idempotency_key=str(message.get("X-Aarshjul-Idempotency-Key", "")),
            links=LINK.findall(text_body),
            at=time.time(),
        )
        with self.lock:
            self.messages.append(caught)
        return "250 Message accepted"


class MailCatcher:
    """An SMTP server in this process that keeps every message the workers send."""

    def __init__(self) -> None:
        self.port = free_port()
        self._handler = _Catcher()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailCatcher:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[CaughtMail]:
        with self._handler.lock:
            return list(self._handler.messages)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Prefect starts each flow run in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def signal_tree(pid: int, signum: int) -> None:
    for target in [pid, *descendants(pid)]:
        with suppress(ProcessLookupError):
            os.kill(target, signum)


@dataclass
class Cluster:
    workdir: Path
    database_url: str
    mail_port: int
    prefect_database_url: str | None = None  #: PostgreSQL for the Prefect server too (else SQLite)
    prefect_url: str = ""
    processes: list[Process] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    # --- environments ---------------------------------------------------------------------------

    def env(self, home: str, **extra: str) -> dict[str, str]:
        """A clean environment: nothing of this test process's Prefect or Årshjul settings leaks in."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AARSHJUL_"))}
        env |= {
            "PREFECT_HOME": str(self.workdir / home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "AARSHJUL_DATA_DIR": str(self.workdir / "data"),
            "AARSHJUL_DATABASE_URL": self.database_url,
            "AARSHJUL_SECRET_KEY": SECRET,
            # Production refuses to start without a chosen mail backend; a web process sends mail itself
            # when it cannot reach Prefect, so the web hosts have the relay too (docs/operations.md).
            "AARSHJUL_MAIL_BACKEND": "smtp",
            "AARSHJUL_SMTP_HOST": "127.0.0.1",
            "AARSHJUL_SMTP_PORT": str(self.mail_port),
        }
        if self.prefect_url:
            env["PREFECT_API_URL"] = self.prefect_url
        return env | extra

    def worker_env(self, name: str) -> dict[str, str]:
        """A worker host's environment: the secrets and the mail relay (docs/operations.md)."""
        return self.env(
            f"worker-{name}",
            # A worker asks for runs every second instead of every ten (the default), as
            # docs/operations.md suggests where the next step should open within seconds.
            PREFECT_WORKER_QUERY_SECONDS="1",
        )

    # --- commands -------------------------------------------------------------------------------

    def run(self, command: list[str], env: dict[str, str], timeout: float = 180) -> str:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def aarshjul(self, *args: str) -> str:
        return self.run([PYTHON, "-m", "aarshjul.cli", *args], self.env("cli"))

    def prefect(self, *args: str, **extra: str) -> str:
        return self.run([PYTHON, "-m", "prefect", *args], self.env("cli", **extra))

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> Process:
        log = self.workdir / f"{name}.log"
        handle = log.open("ab")
        self._logs.append(handle)
        popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    # --- the parts ------------------------------------------------------------------------------

    def start_prefect_server(self) -> None:
        port = free_port()
        database = self.prefect_database_url or f"sqlite+aiosqlite:///{self.workdir / 'prefect.db'}"
        env = self.env(
            "prefect-server",
            PREFECT_SERVER_DATABASE_CONNECTION_URL=database,
            PREFECT_UI_ENABLED="false",
            PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED="events,flow_runs",
            # The slot of a process that died comes back within a lease (60 s) and this loop.
            PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS="5",
        )
        server = self._start(
            "prefect-server",
            [PYTHON, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env,
        )
        url = f"http://127.0.0.1:{port}/api"

        def healthy() -> bool:
            if server.popen.poll() is not None:
                raise RuntimeError(f"the Prefect server exited:\n{server.output()[-3000:]}")
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, STARTUP_TIMEOUT, "the Prefect server did not answer", 0.5)
        self.prefect_url = url

    def deploy(self, base_url: str) -> None:
        """The operator's commands: the work pool, then every deployment of prefect.yaml."""
        self.prefect("work-pool", "create", "aarshjul", "--type", "process", "--overwrite")
        deployed = {"AARSHJUL_BASE_URL": base_url, "AARSHJUL_TIME_ZONE": "Europe/Oslo", "AARSHJUL_MAIL_BACKEND": "smtp"}
        self.prefect("--no-prompt", "deploy", "--all", **deployed)

    def start_worker(self, name: str, limit: int | None = None) -> Process:
        command = [PYTHON, "-m", "prefect", "worker", "start", "--pool", "aarshjul", "--type", "process"]
        command += ["--name", name, *(["--limit", str(limit)] if limit else [])]
        worker = self._start(f"worker-{name}", command, self.worker_env(name))
        wait_until(
            lambda: "started!" in worker.output() or worker.popen.poll() is not None,
            STARTUP_TIMEOUT,
            f"worker {name} did not start",
        )
        if worker.popen.poll() is not None:
            raise RuntimeError(f"worker {name} exited:\n{worker.output()[-3000:]}")
        return worker

    def start_web(self, name: str, via: str = "aarshjul", workers: int = 1) -> str:
        """A web process; ``via`` "aarshjul" (``serve --web-only``) or "uvicorn" (the factory)."""
        port = free_port()
        if via == "aarshjul":
            command = [PYTHON, "-m", "aarshjul.cli", "serve", "--web-only", "--port", str(port)]
            command += ["--workers", str(workers)]
        else:
            command = [PYTHON, "-m", "uvicorn", "--factory", "service.app:create_app", "--port", str(port)]
            command += ["--workers", str(workers), "--no-proxy-headers", "--log-level", "warning"]
        extra = {} if via == "aarshjul" else {"AARSHJUL_BASE_URL": f"http://127.0.0.1:{port}"}
        web = self._start(f"web-{name}", command, self.env(f"web-{name}", **extra))
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if web.popen.poll() is not None:
                raise RuntimeError(f"web process {name} exited:\n{web.output()[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, STARTUP_TIMEOUT, f"web process {name} did not answer", 0.3)
        return url

    def kill(self, process: Process) -> None:
        """SIGKILL a process and everything it started: a host lost mid-work."""
        signal_tree(process.popen.pid, signal.SIGKILL)
        process.popen.wait(30)

    def stop(self) -> None:
        # Workers first (they report their runs' states to the server), then web processes, the server last.
        order = sorted(self.processes, key=lambda p: (p.name == "prefect-server", p.name.startswith("web-")))
        for process in order:
            if process.popen.poll() is None:
                signal_tree(process.popen.pid, signal.SIGTERM)
                try:
                    process.popen.wait(20)
                except subprocess.TimeoutExpired:
                    signal_tree(process.popen.pid, signal.SIGKILL)
                    process.popen.wait(20)
        for handle in self._logs:
            handle.close()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.output()[-4000:]}" for p in self.processes)

    # --- the Prefect API --------------------------------------------------------------------------

    def flow_runs(self, deployment: str, tag: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"deployments": {"name": {"any_": [deployment]}}, "limit": 200}
        if tag is not None:
            body["flow_runs"] = {"tags": {"all_": [tag]}}
        answer = httpx.post(f"{self.prefect_url}/flow_runs/filter", json=body, timeout=10)
        answer.raise_for_status()
        return list(answer.json())


# --- the organisation and the cycle ---------------------------------------------------------------


def write_org(path: Path, units: int) -> list[str]:
    """An organisation of ``units`` units under one top unit, each with a leader and two employees,
    and HR; returns the leaders' addresses in unit order."""
    rows = ["employee_no;name;email;unit;unit_name;parent_unit;role"]
    rows.append("1;Hedda HR;hr@skala.no;TOP;Skala kommune;;hr")
    rows.append("2;Toril Topp;toril@skala.no;TOP;Skala kommune;;leader")
    leaders = []
    for index in range(1, units + 1):
        code = f"U{index:03d}"
        leader = f"leder{index}@skala.no"
        leaders.append(leader)
        rows.append(f"{100 + index * 3};Leder {index};{leader};{code};Enhet {index};TOP;leader")
        rows.append(f"{101 + index * 3};Ansatt {index}a;ansatt{index}a@skala.no;{code};;TOP;employee")
        rows.append(f"{102 + index * 3};Ansatt {index}b;ansatt{index}b@skala.no;{code};;TOP;employee")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return leaders


def write_strategy(path: Path, year: int) -> None:
    path.write_text(
        f"period: {{name: Skala {year}-{year + 3}, first_year: {year}, last_year: {year + 3}}}\n"
        "strategic_goals:\n"
        "  - {code: SM1, title: Gode tjenester}\n"
        "  - {code: SM2, title: Riktig kompetanse}\n"
        "competence_areas: [{code: DIGI, name: Digital kompetanse, main_goal: Digitale tjenester}]\n",
        encoding="utf-8",
    )


def strategy_review_answer(form: dict[str, Any]) -> dict[str, Any]:
    goal_ids = form["schema"]["$defs"]["GoalReview"]["properties"]["strategic_goal_id"]["enum"]
    return {"goals": [{"strategic_goal_id": g, "meaning": "Viktig for oss – æøå", "relevance": 4} for g in goal_ids]}


def today_in_oslo() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Oslo")).date()
