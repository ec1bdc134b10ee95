"""Benchmark: submissions of real forms over HTTP, the service under uvicorn (one process, as
``aarshjul serve`` runs it), with 1 and with 16 concurrent clients.

Every client opens a talk preparation (``GET /api/t/{token}``) and submits it
(``POST /api/t/{token}``), each on a task of its own; every submission is followed by its unit's
advance in the service (on its background queue, as the embedded default's trigger runs it). Prints,
per scenario, p50/p95/p99 of the submissions (and of the reads), throughput and errors; the yardstick
in the same run is the service's ``GET /healthz`` (one ``SELECT 1``: what any request costs at least).

Run: ``.venv/bin/python -m bench.http_submit`` (SQLite; add ``--database-url
postgresql+psycopg://...`` for an empty PostgreSQL database).
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from aarshjul.clock import ManualClock
from aarshjul.db.engine import make_engine, make_session_factory
from aarshjul.domain.enums import AdvanceReason
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.usecases.cycle.advance import advance_cycle
from bench.common import (
    START,
    arguments,
    build_org,
    column,
    emit,
    make_runtime,
    open_talks,
    percentile,
    spread,
    units_for,
)
from bench.complete_step import _preparations
from service.triggers import ADVANCE_GATHER_SECONDS, Coalescing

SUBMISSIONS = 1_200  #: per scenario
CLIENTS = (1, 16)
TARGET_P95_MS = {1: 30.0, 16: 150.0}


class AdvanceInBackground:
    """The embedded default's trigger without the Prefect run it also starts: the unit's advance on
    the service's background threads, gathered and coalesced per unit, as ``service.triggers.PrefectTriggers(
    run_here=True)`` does it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.background = Coalescing()

    def advance(
        self, cycle_id: int, unit_id: int | None = None, reason: AdvanceReason = AdvanceReason.REQUESTED
    ) -> None:
        self.background.submit(
            ("advance", cycle_id, unit_id),
            lambda: advance_cycle(self.runtime, cycle_id, unit_id=unit_id),
            ADVANCE_GATHER_SECONDS,
        )

    def dispatch(self) -> None:
        return None  # the mail is not what is measured here


def serve(database_url: str, data_dir: Path, port: int) -> None:
    import uvicorn

    from service.app import create_app

    settings = Settings(data_dir=data_dir, secret_key=SecretStr("bench-" + "x" * 40), database_url=database_url)
    engine = make_engine(settings.resolved_database_url)
    clock = ManualClock(START.replace(hour=9))
    runtime = Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=clock)
    runtime.triggers = AdvanceInBackground(runtime)
    app = create_app(runtime)
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _scenario(base: str, clients: int, work: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    posts: list[float] = []
    gets: list[float] = []
    errors: list[str] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while not queue.empty():
                token, data = queue.get_nowait()
                started = time.perf_counter()
                opened = await http.get(f"/api/t/{token}")
                gets.append(time.perf_counter() - started)
                if opened.status_code != 200:
                    errors.append(f"GET {opened.status_code}")
                    continue
                started = time.perf_counter()
                answer = await http.post(f"/api/t/{token}", json=data)
                posts.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    errors.append(f"POST {answer.status_code} {answer.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    return {
        "clients": clients,
        "submissions": len(posts),
        "p50_ms": percentile(posts, 0.5) * 1000,
        "p95_ms": percentile(posts, 0.95) * 1000,
        "p99_ms": percentile(posts, 0.99) * 1000,
        "get_p50_ms": percentile(gets, 0.5) * 1000,
        "get_p95_ms": percentile(gets, 0.95) * 1000,
        "per_second": len(posts) / seconds,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


async def _floor(base: str, clients: int, requests: int) -> float:
    timings: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(requests // clients):
                started = time.perf_counter()
                await http.get("/healthz")
                timings.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(clients)))
    return percentile(timings, 0.95) * 1000


def one(employees: int, database_url: str | None) -> dict[str, Any]:
    runtime = make_runtime(database_url, prefix="aarshjul-bench-http-")
    build_org(runtime, employees, units_for(employees))
    cycle_id = open_talks(runtime)
    work = [(token, data) for _task, _unit, token, data in _preparations(runtime, cycle_id)]
    url = runtime.settings.resolved_database_url
    runtime.engine.dispose()
    port = _free_port()
    command = [sys.executable, "-m", "bench.http_submit", "--serve", str(port), "--database-url", url]
    server = subprocess.Popen([*command, "--data-dir", str(runtime.settings.data_dir)], start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the service did not start")
            time.sleep(0.2)
        results: dict[str, Any] = {"backend": runtime.engine.dialect.name, "employees": employees}
        for clients in CLIENTS:
            batch, work = work[:SUBMISSIONS], work[SUBMISSIONS:]
            asyncio.run(_scenario(base, clients, batch[:20]))  # warm up the service's caches and pool
            scenario = asyncio.run(_scenario(base, clients, batch[20:]))
            scenario["floor_p95_ms"] = asyncio.run(_floor(base, clients, 400))
            results.update({f"c{clients}_{key}": value for key, value in scenario.items()})
        return results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--serve", type=int, help="serve on this port (internal)")
        parser.add_argument("--data-dir", type=Path, help="(internal)")

    args = arguments(__doc__, extra)
    if args.serve:
        serve(args.database_url, args.data_dir, args.serve)
        return
    if args.one:
        emit(one(args.employees[0], args.database_url))
        return
    from bench.common import run_each

    results = run_each("bench.http_submit", args)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"http_submit on {backend}: GET then POST /api/t/{{token}}, {args.runs} runs (min / median / max)")
    for employees, runs in results.items():
        print(f"\n{employees} employees, {units_for(employees)} units")
        for clients in CLIENTS:
            c = f"c{clients}_"
            p95 = column(runs, c + "p95_ms")
            verdict = "within" if max(p95) <= TARGET_P95_MS[clients] else "OVER"
            print(f"  {clients} client(s), {runs[0][c + 'submissions']} submissions each run:")
            print(
                f"    submit p50 {spread(column(runs, c + 'p50_ms'))} ms, p95 {spread(p95)} ms"
                f" ({verdict} {TARGET_P95_MS[clients]:.0f} ms), p99 {spread(column(runs, c + 'p99_ms'))} ms"
            )
            print(
                f"    open   p50 {spread(column(runs, c + 'get_p50_ms'))} ms,"
                f" p95 {spread(column(runs, c + 'get_p95_ms'))} ms"
            )
            print(f"    throughput {spread(column(runs, c + 'per_second'))} submissions/s;", end="")
            print(f" errors {spread(column(runs, c + 'errors'))}")
            floor = column(runs, c + "floor_p95_ms")
            ratios = [p / f for p, f in zip(p95, floor, strict=True)]
            print(f"    yardstick GET /healthz p95 {spread(floor)} ms; submit p95 / healthz p95 {spread(ratios)}x")
            for run in runs:
                if run[c + "first_error"]:
                    print(f"    first error: {run[c + 'first_error']}")


if __name__ == "__main__":
    main()
