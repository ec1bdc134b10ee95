"""``aarshjul serve --demo`` as a user runs it: the service, its own local Prefect server and runner.

A cycle started over the API reaches its first unit leader by email; the leader's submission (the
submitter never waits) makes the next step's task exist within about ten seconds through a real
Prefect flow run, and that task's invitation is sent. Stopping the service stops Prefect with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from aarshjul.db.models import HumanTask, Notification
from aarshjul.domain.enums import NotificationState
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.signing import read_task_token
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT = 120.0


@dataclass
class Service:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    runtime: Runtime

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "aarshjul.cli", *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


def launch(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str], Path]:
    """``aarshjul serve --demo`` in a session of its own; returns the process, its URL, env and log."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AARSHJUL_"))}
    # No AARSHJUL_BASE_URL: links and the printed address follow the port the service listens on.
    env.update({"AARSHJUL_DATA_DIR": str(tmp_path / "data")})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "aarshjul.cli", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, url, env, log


def kill_everything(process: subprocess.Popen[bytes]) -> None:
    """After a failed test: whatever the service started is killed too (it runs in groups of its own)."""
    for pid in {*descendants(process.pid), process.pid}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    process, url, env, log = launch(tmp_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"aarshjul serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            kill_everything(process)
            pytest.fail(f"aarshjul serve did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log.read_text()}")
        time.sleep(0.5)
    settings = Settings(data_dir=tmp_path / "data", demo=True, base_url=url)
    runtime = Runtime.from_settings(settings)
    yield Service(url, env, process, log, runtime)
    runtime.engine.dispose()
    if process.poll() is None:
        kill_everything(process)


def descendants(pid: int) -> set[int]:
    """Every process started by ``pid``, and by those, at this moment."""
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    for line in table.splitlines():
        child, parent = (int(n) for n in line.split())
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (a zombie has finished)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if state != "Z":
            running.add(pid)
    return running


def count(runtime: Runtime, statement) -> int:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return int(session.scalar(statement) or 0)


def wait_for(predicate, timeout: float) -> float | None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def test_a_submission_reaches_the_next_step_through_a_real_flow_run(service: Service) -> None:
    output = service.log.read_text()
    assert "Loaded the demo organisation" in output
    assert f"Årshjul is running at {service.url}" in output and f"{service.url}/hr/login" in output
    token = service.cli("hr", "token").strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    today = dt.datetime.now(dt.UTC).astimezone(service.runtime.settings.zone).date()
    if today.year > 2028:  # the demo's strategy period is 2025–2028; give a later year one of its own
        strategy = Path(service.env["AARSHJUL_DATA_DIR"]) / "later.yaml"
        strategy.write_text(
            f"period: {{first_year: {today.year}, last_year: {today.year + 3}}}\n"
            "strategic_goals: [{code: SM1, title: Gode tjenester}]\n"
            "competence_areas: [{code: ENDRING, name: Endring, main_goal: Evne til endring}]\n"
        )
        service.cli("strategy", "load", str(strategy))
    started = httpx.post(
        f"{service.url}/api/cycles", json={"year": today.year, "starts_on": today.isoformat()}, headers=headers
    )
    assert started.status_code in (200, 201), started.text
    cycle_id = started.json()["id"]

    # The cycle's first invitations are sent by the flows, not by the request that started it.
    sent = select(func.count()).select_from(Notification).where(Notification.state == NotificationState.SENT.value)
    assert wait_for(lambda: count(service.runtime, sent) >= 8, 60) is not None, service.log.read_text()
    outbox = json.loads(service.cli("outbox", "--json"))
    invitation = next(m for m in outbox if m["template"] == "task_invitation" and "Gjennomgang" in m["subject"])
    link = invitation["links"][0]
    assert link.startswith(f"{service.url}/t/")  # rendered by the runner's flow run, with this port
    task_id = read_task_token(service.runtime.settings.secret(), link.rsplit("/", 1)[1]).task_id
    with service.runtime.sessions() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        unit_id = task.unit_id

    form = httpx.get(link.replace("/t/", "/api/t/"), timeout=10).json()
    goal_ids = form["schema"]["$defs"]["GoalReview"]["properties"]["strategic_goal_id"]["enum"]
    answer = {"goals": [{"strategic_goal_id": g, "meaning": "Viktig for oss – æøå", "relevance": 4} for g in goal_ids]}
    before = time.monotonic()
    receipt = httpx.post(link.replace("/t/", "/api/t/"), json=answer, timeout=10)
    submit_seconds = time.monotonic() - before
    assert receipt.status_code == 200, receipt.text
    assert submit_seconds < 2.0  # the submitter does not wait for a flow run

    next_task = (
        select(func.count())
        .select_from(HumanTask)
        .where(HumanTask.cycle_id == cycle_id, HumanTask.unit_id == unit_id, HumanTask.step_key == "unit_goals")
    )
    opened_after = wait_for(lambda: count(service.runtime, next_task) == 1, 30)
    assert opened_after is not None, service.log.read_text()
    assert opened_after < 12.0
    print(f"\nnext step's task existed {opened_after:.1f} s after the submission")

    invited = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.template == "task_invitation", Notification.state == NotificationState.SENT.value)
    )
    assert wait_for(lambda: count(service.runtime, invited) >= 9, 30) is not None

    # The run is visible in Prefect, tagged with the cycle.
    api = next(line for line in service.log.read_text().splitlines() if "Prefect UI:" in line)
    prefect_url = api.rsplit("Prefect UI: ", 1)[1].rstrip(")").strip() + "/api"

    def completed_runs() -> list[str]:
        body = {"flow_runs": {"tags": {"all_": [f"cycle:{cycle_id}"]}}}
        runs = httpx.post(f"{prefect_url}/flow_runs/filter", json=body, timeout=10)
        assert runs.status_code == 200
        return [r["name"] for r in runs.json() if r["state_type"] == "COMPLETED"]

    assert wait_for(lambda: bool(completed_runs()), 30) is not None
    assert all(name == f"cycle-{today.year}/after-submission" for name in completed_runs())

    # The local server deletes finished flow runs after the retention period (90 days by default).
    vacuum = httpx.get(f"{prefect_url}/admin/settings", timeout=10).json()["server"]["services"]["db_vacuum"]
    assert "flow_runs" in vacuum["enabled"] and vacuum["retention_period"] in (7776000, "P90D", 7776000.0)

    # No link's token in any log line: the service's own log and Prefect's.
    logs = service.log.read_text() + "".join(
        p.read_text(errors="replace") for p in (Path(service.env["AARSHJUL_DATA_DIR"]) / "prefect").glob("*.log")
    )
    assert "/api/t/[token]" in logs
    assert link.rsplit("/", 1)[1] not in logs and token not in logs

    # Stopping the service stops the Prefect server and runner it started, and all they started.
    started_processes = descendants(service.process.pid)
    assert len(started_processes) >= 2  # the Prefect server, the runner
    service.process.send_signal(signal.SIGINT)
    assert service.process.wait(timeout=30) == 0
    assert wait_for(lambda: not alive(started_processes), 20) is not None, alive(started_processes)


STOP_WITHIN = 20.0


def test_sigterm_stops_the_service_and_everything_it_started(service: Service) -> None:
    started_processes = descendants(service.process.pid)
    assert len(started_processes) >= 2, service.log.read_text()  # the Prefect server, the runner
    service.process.send_signal(signal.SIGTERM)
    service.process.wait(timeout=STOP_WITHIN)
    assert wait_for(lambda: not alive(started_processes), 2) is not None, alive(started_processes)


def test_a_signal_during_start_up_leaves_nothing_behind(tmp_path: Path) -> None:
    """Stopped while the Prefect server it started is still coming up (nothing answers yet)."""
    process, url, _env, log = launch(tmp_path)
    try:
        assert wait_for(lambda: bool(descendants(process.pid)), STARTUP_TIMEOUT) is not None, log.read_text()
        started_processes = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STOP_WITHIN)
        assert wait_for(lambda: not alive(started_processes), 2) is not None, alive(started_processes)
    finally:
        kill_everything(process)
