"""Benchmark: Årshjul scaled out on this machine, 1 web process + 1 worker against 2 + 2, in one run.

Each configuration gets a fresh PostgreSQL database with an organisation of ``--units`` units and a
started cycle, its own web processes (``aarshjul serve --web-only``) and Prefect workers (the work
pool and deployments of ``prefect.yaml``, on one Prefect server for the whole run). Then every
leader submits the first step's form at once, through the web processes in turn, from an
asynchronous httpx load generator holding ``--concurrency`` requests in flight (each leader: GET the
form, POST the answer). Printed per configuration:

- submissions per second: leaders / (last answer - first request), the web tier's throughput;
- submission -> next task: from a leader's answer to the moment the advance created that unit's
  next task (``human_task.created_at``), median and 95th percentile;
- submission -> invitation: to the moment the next step's email reached the SMTP catcher.

Not a test. Needs a PostgreSQL server: ``--database-url`` (any database on it; others are created
beside it) or ``AARSHJUL_TEST_POSTGRES_URL``. Run from the repository root:
``.venv/bin/python -m bench.scale_out --database-url postgresql+psycopg://postgres@127.0.0.1:54381/postgres``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from aarshjul.db.engine import make_engine
from aarshjul.db.models import HumanTask, Unit
from tests.cluster import (
    Cluster,
    MailCatcher,
    postgres_database,
    strategy_review_answer,
    today_in_oslo,
    wait_until,
    write_org,
    write_strategy,
)

FIRST_STEP = "Gjennomgang"
NEXT_STEP = "Enhetens prioritering"


@dataclass
class Result:
    label: str
    submissions: int
    seconds: float
    task_latencies: list[float]
    mail_latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.submissions / self.seconds

    @staticmethod
    def _p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]

    def line(self) -> str:
        tasks, mails = self.task_latencies, self.mail_latencies
        return (
            f"{self.label:<18} {self.submissions:>5} {self.seconds:>7.2f} s {self.per_second:>7.1f}/s"
            f"   next task {statistics.median(tasks):>5.2f} s (p95 {self._p95(tasks):>5.2f} s)"
            f"   invitation {statistics.median(mails):>5.2f} s (p95 {self._p95(mails):>5.2f} s)"
        )


async def _load(webs: list[str], links: dict[str, str], concurrency: int) -> tuple[dict[str, float], float, float]:
    """Every leader submits once; returns when each answer came (by leader), the first start and last end."""
    limit = asyncio.Semaphore(concurrency)
    answered: dict[str, float] = {}
    leaders = sorted(links)

    async def submit(client: httpx.AsyncClient, index: int, leader: str) -> None:
        api = webs[index % len(webs)] + "/api/t/" + links[leader].rsplit("/t/", 1)[1]
        async with limit:
            form = (await client.get(api)).json()
            answer = await client.post(api, json=strategy_review_answer(form))
            answer.raise_for_status()
            answered[leader] = time.time()

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.time()
        await asyncio.gather(*(submit(client, i, leader) for i, leader in enumerate(leaders)))
    return answered, started, max(answered.values())


def run_configuration(
    cluster: Cluster, mail: MailCatcher, label: str, webs_n: int, workers_n: int, units: int, concurrency: int
) -> Result:
    work = cluster.workdir
    cluster.aarshjul("db", "upgrade")
    leaders = write_org(work / "org.csv", units)
    write_strategy(work / "strategy.yaml", today_in_oslo().year)
    cluster.aarshjul("org", "import", str(work / "org.csv"), "--organisation", "Skala kommune")
    cluster.aarshjul("strategy", "load", str(work / "strategy.yaml"))
    webs = [cluster.start_web(f"{label}-{i}") for i in range(webs_n)]
    cluster.deploy(base_url=webs[0])
    for index in range(workers_n):
        cluster.start_worker(f"{label}-{index}")
    token = cluster.aarshjul("hr", "token").strip().splitlines()[-1]
    today = today_in_oslo()
    started = httpx.post(
        f"{webs[0]}/api/cycles",
        json={"year": today.year, "starts_on": today.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    started.raise_for_status()
    cycle_id = started.json()["id"]

    def invited() -> dict[str, str]:
        return {m.to: m.links[0] for m in mail.messages if FIRST_STEP in m.subject and m.to in set(leaders)}

    wait_until(lambda: len(invited()) == units, 300, "the first invitations were not all sent")
    answered, first, last = asyncio.run(_load(webs, invited(), concurrency))

    engine = make_engine(cluster.database_url)
    query = (
        select(Unit.code, HumanTask.created_at)
        .join(Unit, Unit.id == HumanTask.unit_id)
        .where(HumanTask.cycle_id == cycle_id, HumanTask.step_key == "unit_goals")
    )

    def next_tasks() -> dict[str, float]:
        with engine.connect() as connection:
            return {code: created.timestamp() for code, created in connection.execute(query)}

    try:
        wait_until(lambda: len(next_tasks()) == units, 600, "the next steps did not all open", interval=0.5)
        created = next_tasks()
    finally:
        engine.dispose()
    wait_until(
        lambda: sum(1 for m in mail.messages if NEXT_STEP in m.subject) >= units, 300, "the next invitations", 0.5
    )
    leader_of = {f"U{i:03d}": leader for i, leader in enumerate(leaders, start=1)}
    mailed = {m.to: m.at for m in mail.messages if NEXT_STEP in m.subject}
    return Result(
        label=label,
        submissions=units,
        seconds=last - first,
        task_latencies=[created[code] - answered[leader] for code, leader in leader_of.items()],
        mail_latencies=[mailed[leader] - answered[leader] for leader in leaders],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("AARSHJUL_TEST_POSTGRES_URL", ""))
    parser.add_argument("--units", type=int, default=120, help="units, one submitting leader each")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight from the load generator")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("a PostgreSQL server is needed: --database-url or AARSHJUL_TEST_POSTGRES_URL")
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f}; {args.units} leaders, {args.concurrency} in flight")
    results = []
    with tempfile.TemporaryDirectory(prefix="aarshjul-scale-") as root:
        prefect_root = Path(root) / "prefect"
        prefect_root.mkdir()
        server = Cluster(prefect_root, database_url="", mail_port=0)
        server.start_prefect_server()
        try:
            for label, webs_n, workers_n in (("1 web + 1 worker", 1, 1), ("2 web + 2 workers", 2, 2)):
                work = Path(root) / label.replace(" ", "")
                work.mkdir()
                name = f"aarshjul_bench_{webs_n}_{os.getpid()}"
                with postgres_database(args.database_url, name) as database_url, MailCatcher() as mail:
                    cluster = Cluster(work, database_url, mail.port, prefect_url=server.prefect_url)
                    try:
                        results.append(
                            run_configuration(cluster, mail, label, webs_n, workers_n, args.units, args.concurrency)
                        )
                    finally:
                        cluster.stop()
                print(results[-1].line(), flush=True)
        finally:
            server.stop()
    one, two = results
    print(
        f"2 + 2 against 1 + 1: {two.per_second / one.per_second:.2f}x the submissions per second; "
        f"next-task latency median {statistics.median(two.task_latencies) / statistics.median(one.task_latencies):.2f}x"
    )


if __name__ == "__main__":
    main()
