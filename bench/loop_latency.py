"""Benchmark: last input to the next step's invitations sent, in the embedded default
(``aarshjul serve --demo``: the service, its own Prefect server and runner, the local mail outbox).

HR starts a cycle over the API; each of the demo's eight unit leaders then submits the strategy
review over HTTP, one after another, and the time from sending the submission to the moment the
next step's invitation is marked sent (``notification.sent_at``) is taken. Prints the median and the
slowest per run; the yardstick in the same run is the submission's own round trip.

Run: ``.venv/bin/python -m bench.loop_latency`` (about a minute per run: the Prefect server starts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from aarshjul.db.models import HumanTask, Notification
from aarshjul.domain.enums import NotificationState, TaskState
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.signing import TaskLinkClaims, task_token
from bench.common import spread

TARGET_MEDIAN_S = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "aarshjul.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return done.stdout


def _sent_invitation(runtime: Runtime, task_id: int) -> dt.datetime | None:
    with runtime.sessions() as session:
        for sent_at, context in session.execute(
            select(Notification.sent_at, Notification.context).where(
                Notification.template == "task_invitation", Notification.state == NotificationState.SENT
            )
        ):
            if task_id in (context or {}).get("task_ids", []):
                return sent_at
    return None


def one_run() -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="aarshjul-bench-loop-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AARSHJUL_"))}
    env.update({"AARSHJUL_DATA_DIR": str(data_dir), "AARSHJUL_BASE_URL": base})
    log = (data_dir / "serve.log").open("wb")
    command = [sys.executable, "-m", "aarshjul.cli", "serve", "--demo", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    runtime = Runtime.from_settings(Settings(data_dir=data_dir, demo=True, base_url=base))
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"aarshjul serve did not start:\n{(data_dir / 'serve.log').read_text()}")
            time.sleep(0.5)
        token = _cli(env, "hr", "token").strip().splitlines()[-1]
        today = dt.datetime.now(dt.UTC).astimezone(runtime.settings.zone).date()
        year = min(max(today.year, 2025), 2028)
        starts_on = max(today, dt.date(year, 1, 1))
        started = httpx.post(
            f"{base}/api/cycles",
            json={"year": year, "starts_on": starts_on.isoformat()},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if started.status_code != 201:
            raise SystemExit(f"could not start the cycle: {started.status_code} {started.text}")
        cycle_id = started.json()["id"]
        secret = runtime.settings.secret()
        with runtime.sessions() as session:
            reviews = list(
                session.execute(
                    select(HumanTask.id, HumanTask.unit_id, HumanTask.assignee_id, HumanTask.link_version).where(
                        HumanTask.cycle_id == cycle_id,
                        HumanTask.step_key == "strategy_review",
                        HumanTask.state == TaskState.OPEN,
                    )
                )
            )
        latencies: list[float] = []
        round_trips: list[float] = []
        for review in reviews:
            link = (
                f"{base}/api/t/{task_token(secret, TaskLinkClaims(review.id, review.assignee_id, review.link_version))}"
            )
            form = httpx.get(link, timeout=30).json()
            goals = form["schema"]["$defs"]["GoalReview"]["properties"]["strategic_goal_id"]["enum"]
            answer = {"goals": [{"strategic_goal_id": g, "meaning": "Viktig for oss", "relevance": 4} for g in goals]}
            sent = dt.datetime.now(dt.UTC)
            before = time.perf_counter()
            receipt = httpx.post(link, json=answer, timeout=30)
            round_trips.append(time.perf_counter() - before)
            if receipt.status_code != 200:
                raise SystemExit(f"submission refused: {receipt.status_code} {receipt.text}")
            deadline = time.monotonic() + 60
            while True:
                with runtime.sessions() as session:
                    next_task = session.scalar(
                        select(HumanTask.id).where(
                            HumanTask.cycle_id == cycle_id,
                            HumanTask.unit_id == review.unit_id,
                            HumanTask.step_key == "unit_goals",
                        )
                    )
                sent_at = _sent_invitation(runtime, next_task) if next_task is not None else None
                if sent_at is not None:
                    latencies.append((sent_at - sent).total_seconds())
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("the next step's invitation was not sent within a minute")
                time.sleep(0.05)
        return {
            "median_s": statistics.median(latencies),
            "slowest_s": max(latencies),
            "round_trip_ms": statistics.median(round_trips) * 1000,
            "submissions": len(latencies),
        }
    finally:
        runtime.engine.dispose()
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for run in range(args.runs):
        runs.append(one_run())
        print(f"  ... run {run + 1}/{args.runs} done", file=sys.stderr)
    medians = [r["median_s"] for r in runs]
    verdict = "within" if statistics.median(medians) <= TARGET_MEDIAN_S else "OVER"
    print(f"loop_latency, embedded default: {runs[0]['submissions']} submissions per run, {args.runs} runs")
    print(f"  last input -> next step's invitation sent, median per run: {spread(medians)} s -> {verdict}", end="")
    print(f" {TARGET_MEDIAN_S:.0f} s; slowest per run: {spread([r['slowest_s'] for r in runs])} s")
    trips = [r["round_trip_ms"] for r in runs]
    print(f"  yardstick, the submission's own round trip (median): {spread(trips)} ms")
    ratios = [m * 1000 / t for m, t in zip(medians, trips, strict=True)]
    print(f"  ratio: {spread(ratios)}x")


if __name__ == "__main__":
    main()
