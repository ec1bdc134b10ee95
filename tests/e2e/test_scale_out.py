"""Årshjul outgrowing one machine (docs/operations.md), end to end and in separate processes.

PostgreSQL; a Prefect server; the work pool and deployments of prefect.yaml; two process workers;
two web processes, one started with ``aarshjul serve --web-only`` and one with
``uvicorn --factory service.app:create_app``. HR starts a cycle through the first; the leaders
submit through both:

1. A burst of twenty leaders at once: the advances coalesce (never more than one running and one
   waiting per cycle, fewer runs than submissions) and every next step opens with its invitation.
2. The other ten, while the test holds the notification table: the advance that takes their
   submissions in stops half-way (its tasks are written, its invitations wait for the lock). The
   worker running it is killed with SIGKILL, with its flow-run process, and the lock let go: the
   half-done transaction is gone, and the other worker does the work in the next sweep.

In the end every leader has exactly one task of the next step and exactly one email about it, no
email went out twice (the SMTP catcher sees every message's idempotency key once), and no run failed.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from aarshjul.db.engine import make_engine
from aarshjul.db.models import HumanTask, Notification
from aarshjul.domain.enums import NotificationState
from tests.cluster import (
    CaughtMail,
    Cluster,
    MailCatcher,
    Process,
    descendants,
    postgres_database,
    strategy_review_answer,
    today_in_oslo,
    wait_until,
    write_org,
    write_strategy,
)
from tests.conftest import POSTGRES_URL

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UNITS = 30
BURST = 20  #: leaders submitting at once in the first part; the rest in the second
FIRST_STEP = "Gjennomgang"  #: in the subject of the first step's invitations
NEXT_STEP = "Enhetens prioritering"  #: and of the next step's
NON_FINAL = {"SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"}


class RunWatch:
    """Samples the advance runs of one cycle a few times a second, as an operator's dashboard would."""

    def __init__(self, cluster: Cluster, cycle_id: int) -> None:
        self.cluster = cluster
        self.tag = f"cycle:{cycle_id}"
        self.samples: list[tuple[float, list[dict[str, Any]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RunWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.samples.append((time.time(), self.cluster.flow_runs("annual-cycle", self.tag)))
            except httpx.HTTPError:
                continue

    def most_alive(self, since: float, until: float, ignore: frozenset[str] = frozenset()) -> int:
        """The most runs that were scheduled, pending or running at one moment."""
        return max(
            (
                sum(1 for r in runs if r["state_type"] in NON_FINAL and r["id"] not in ignore)
                for at, runs in self.samples
                if since <= at <= until
            ),
            default=0,
        )


def _count(engine: Engine, statement: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar() or 0)


def _next_tasks(engine: Engine, cycle_id: int) -> int:
    return _count(
        engine,
        select(func.count())
        .select_from(HumanTask)
        .where(HumanTask.cycle_id == cycle_id, HumanTask.step_key == "unit_goals"),
    )


def _invitations(mail: MailCatcher, words: str) -> list[CaughtMail]:
    return [m for m in mail.messages if words in m.subject]


def _submit(web: str, link: str) -> int:
    api = web + "/api/t/" + link.rsplit("/t/", 1)[1]
    form = httpx.get(api, timeout=30).json()
    return httpx.post(api, json=strategy_review_answer(form), timeout=30).status_code


def _submit_all(webs: list[str], links: list[str]) -> list[int]:
    """Every leader at once, through the web processes in turn."""
    with ThreadPoolExecutor(max_workers=len(links)) as pool:
        return list(pool.map(_submit, [webs[i % len(webs)] for i in range(len(links))], links))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, MailCatcher, Engine]]:
    if not POSTGRES_URL:
        pytest.skip("needs PostgreSQL: scripts/test starts one and sets AARSHJUL_TEST_POSTGRES_URL")
    name = f"{make_url(POSTGRES_URL).database}_scale_{os.getpid()}"
    with postgres_database(POSTGRES_URL, name) as database_url, MailCatcher() as mail:
        cluster = Cluster(tmp_path, database_url, mail.port)
        engine = make_engine(database_url)
        try:
            yield cluster, mail, engine
        except BaseException:
            print(cluster.logs())
            raise
        finally:
            cluster.stop()
            engine.dispose()


def test_two_web_processes_and_two_workers_lose_nothing_and_repeat_nothing(
    cluster: tuple[Cluster, MailCatcher, Engine], tmp_path: Path
) -> None:
    system, mail, engine = cluster
    today = today_in_oslo()
    system.start_prefect_server()
    system.aarshjul("db", "upgrade")  # the release step; the web processes refuse to start before it
    leaders = write_org(tmp_path / "org.csv", UNITS)
    write_strategy(tmp_path / "strategy.yaml", today.year)
    system.aarshjul("org", "import", str(tmp_path / "org.csv"), "--organisation", "Skala kommune")
    system.aarshjul("strategy", "load", str(tmp_path / "strategy.yaml"))
    webs = [system.start_web("1", via="aarshjul"), system.start_web("2", via="uvicorn")]
    system.deploy(base_url=webs[0])
    # One flow run at a time per worker: the worker busy with the advance that is stopped half-way
    # cannot take the next one too, so the next one is certain to run on the worker that survives.
    workers = [system.start_worker("a", limit=1), system.start_worker("b", limit=1)]

    token = system.aarshjul("hr", "token").strip().splitlines()[-1]
    started = httpx.post(
        f"{webs[0]}/api/cycles",
        json={"year": today.year, "starts_on": today.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert started.status_code == 201, started.text
    cycle_id = started.json()["id"]
    # Every unit's leader is invited, the top unit's too (it takes no part here).
    invited = lambda: {m.to for m in _invitations(mail, FIRST_STEP)}  # noqa: E731
    wait_until(lambda: set(leaders) <= invited(), 120, "the first invitations were not sent")
    first = {m.to: m.links[0] for m in _invitations(mail, FIRST_STEP)}
    links = [first[leader] for leader in leaders]
    assert all(link.startswith(webs[0] + "/t/") for link in links)  # the base URL deployed in prefect.yaml

    with RunWatch(system, cycle_id) as watch:
        # 1. A burst through both web processes.
        burst_started = time.time()
        assert _submit_all(webs, links[:BURST]) == [200] * (BURST)
        wait_until(lambda: _next_tasks(engine, cycle_id) == BURST, 120, "the burst's next steps did not open")
        wait_until(lambda: len(_invitations(mail, NEXT_STEP)) == BURST, 60, "their invitations")
        burst_ended = time.time()

        # 2. The rest, while the advance that takes them in is stopped half-way and its worker killed.
        with engine.connect() as holder:
            holder.begin()
            holder.execute(text("LOCK TABLE notification IN EXCLUSIVE MODE"))
            assert _submit_all(webs, links[BURST:]) == [200] * (UNITS - BURST)
            victim, stopped_run = _wait_for_a_stopped_advance(system, engine, cycle_id, workers)
            killed_at = time.time()
            system.kill(victim)
            holder.rollback()
        # The killed run had taken every one of these submissions in (triggers join the waiting run
        # until it begins), so no trigger is left to start another: the sweep is the safety net. It
        # runs every 15 minutes; here it is started at once, as an operator can.
        system.prefect("deployment", "run", "sweep/sweep")
        wait_until(lambda: _next_tasks(engine, cycle_id) == UNITS, 180, "the other worker did not finish the work")
        wait_until(lambda: len(_invitations(mail, NEXT_STEP)) >= UNITS, 60, "the last invitations")
        time.sleep(2)  # anything sent twice would arrive now
        finished = time.time()

    # Every leader has one task of the next step and one email about it; no email went out twice.
    assert _next_tasks(engine, cycle_id) == UNITS
    assert sorted(m.to for m in _invitations(mail, NEXT_STEP)) == sorted(leaders)
    keys = Counter(m.idempotency_key for m in mail.messages)
    assert all(keys.values()) and max(keys.values()) == 1 and len(keys) == len(mail.messages)
    unsent = select(func.count()).select_from(Notification).where(Notification.state != NotificationState.SENT)
    assert _count(engine, unsent) == 0

    # The advances coalesced: never more than one running and one waiting, far fewer runs than submissions.
    assert watch.most_alive(burst_started, burst_ended) <= 2
    runs_in_burst = {r["id"] for at, runs in watch.samples if at <= burst_ended for r in runs}
    assert len(runs_in_burst) < BURST
    assert watch.most_alive(killed_at, finished, ignore=frozenset({stopped_run})) <= 2

    # Nothing failed; the one run left unfinished is the one whose process was killed.
    everything = [run for name in ("annual-cycle", "sweep", "dispatch") for run in system.flow_runs(name)]
    assert [r["name"] for r in everything if r["state_type"] in ("FAILED", "CRASHED")] == []
    started_runs = [r for r in everything if r["start_time"] is not None]
    assert {r["id"] for r in started_runs if r["state_type"] in NON_FINAL} == {stopped_run}
    names = {r["name"] for r in started_runs if r["id"] != stopped_run}
    assert f"cycle-{today.year}/after-submission" in names and any(n.startswith("dispatch-20") for n in names)
    survivor = next(w for w in workers if w is not victim)
    after_kill = [
        r
        for r in started_runs
        if r["state_type"] == "COMPLETED" and dt.datetime.fromisoformat(r["start_time"]).timestamp() > killed_at
    ]
    assert after_kill and survivor.popen.poll() is None


def _wait_for_a_stopped_advance(
    system: Cluster, engine: Engine, cycle_id: int, workers: list[Process]
) -> tuple[Process, str]:
    """The advance waiting to queue its invitations: its worker, and its run's id."""
    waiting_insert = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO notification%'"
    )
    wait_until(lambda: _count(engine, waiting_insert) == 1, 120, "no advance reached the invitations")
    running = [r for r in system.flow_runs("annual-cycle", f"cycle:{cycle_id}") if r["state_type"] == "RUNNING"]
    # The one that began first holds the cycle's slot: any other started later and waits for it.
    holder = min(running, key=lambda r: r["start_time"])
    pid = int(holder["infrastructure_pid"])
    victim = next(w for w in workers if pid in descendants(w.popen.pid))
    return victim, str(holder["id"])
