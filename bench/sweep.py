"""Benchmark: the sweep (``aarshjul sweep``) over a cycle whose talks step is open for everyone: a talk
preparation and a competence mapping per person, 106,000 open tasks at 50,000 employees in 3,000 units
and twice that at 100,000 / 6,000. The competence mappings are overdue; earlier sweeps escalated them.

A sweep is the cycle's safety-net reconcile (``reconcile_cycle``) and the time-driven work (reminders,
escalations, evaluations, follow-ups). Three cases: a sweep (every 15 minutes) with nothing due, the
same with 10% of the open tasks due for a reminder, and the first sweep of a day, which reconciles the
whole cycle. Both parts are timed, with peak RSS. The yardstick, in the same run on the same file: raw
``sqlite3`` fetching the cycle's open task rows (the rows a sweep could have to look at), untouched.

The database is built once per size; each run sweeps a fresh copy in a fresh process, so each peak
memory figure is the sweep's own. Run: ``.venv/bin/python -m bench.sweep``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select, update

from aarshjul.clock import ManualClock
from aarshjul.db.engine import make_engine, make_session_factory, unit_of_work
from aarshjul.db.models import Cycle, HumanTask, Notification
from aarshjul.domain.enums import ACTIONABLE_TASK_STATES, NotificationState
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.usecases.cycle.advance import reconcile_cycle
from aarshjul.usecases.cycle.sweep import sweep
from bench.common import arguments, build_org, column, cycle_of, emit, make_runtime, open_talks, peak_rss_mb, spread

SIZES = ((50_000, 3_000), (100_000, 6_000))
#: Before the preparations' first reminder (they are due 31 May, seven days' notice), and long after the
#: competence mappings' deadline (1 March) and their escalations.
NOTHING_DUE = dt.datetime(2027, 5, 10, 6, tzinfo=dt.UTC)
TARGET_SECONDS = 1.0
TARGET_RATIO = 3.0
TARGET_RSS_MB = 300


def _build(employees: int, units: int, folder: Path) -> Path:
    runtime = make_runtime(prefix="aarshjul-bench-sweep-")
    build_org(runtime, employees, units)
    open_talks(runtime)
    # The sweeps before this one have run: the competence mappings, due in March, were escalated then.
    # What is left is what a sweep every fifteen minutes finds: nothing due.
    sweep(runtime, now=NOTHING_DUE)
    with unit_of_work(runtime.sessions) as session:
        # The invitations went out long ago, and so did those escalations.
        session.execute(update(Notification).values(state=NotificationState.SENT, sent_at=NOTHING_DUE))
    runtime.engine.dispose()
    target = folder / f"sweep-{employees}.sqlite3"
    _copy(runtime.settings.data_dir / "aarshjul.sqlite3", target)
    with sqlite3.connect(target) as connection:
        connection.execute("ANALYZE")
    return target


def _copy(source: Path, target: Path) -> None:
    """A consistent copy, the write-ahead log included."""
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)


def _runtime_on(path: Path) -> Runtime:
    settings = Settings(
        data_dir=path.parent, secret_key=SecretStr("bench-" + "x" * 40), database_url=f"sqlite:///{path}"
    )
    engine = make_engine(settings.resolved_database_url)
    return Runtime(
        settings=settings, engine=engine, sessions=make_session_factory(engine), clock=ManualClock(NOTHING_DUE)
    )


def _raw_fetch(path: Path, cycle_id: int) -> tuple[float, int]:
    states = tuple(s.value for s in ACTIONABLE_TASK_STATES)
    connection = sqlite3.connect(path)
    started = time.perf_counter()
    rows = connection.execute(
        "SELECT id, cycle_id, unit_id, step_key, part_key, state, subject_person_id, assignee_id, due_on,"
        " reminders_sent, escalation_level FROM human_task"
        f" WHERE cycle_id = ? AND state IN ({','.join('?' * len(states))})",
        (cycle_id, *states),
    ).fetchall()
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, len(rows)


def one(path: Path, due_share: float, first_of_day: bool) -> dict[str, Any]:
    runtime = _runtime_on(path)
    cycle_id = cycle_of(runtime)
    with unit_of_work(runtime.sessions) as session:
        # Today's first sweep has run (it reconciled the whole cycle), unless this is that one.
        reconciled = NOTHING_DUE.date() - dt.timedelta(days=1 if first_of_day else 0)
        session.execute(update(Cycle).values(reconciled_on=reconciled))
        if due_share:
            # Every tenth open task is due in a week (its deadline moved, as an extension does, which starts
            # its ladders again): its seven-day reminder has come.
            session.execute(
                update(HumanTask)
                .where(HumanTask.state.in_(ACTIONABLE_TASK_STATES), HumanTask.id % round(1 / due_share) == 0)
                .values(due_on=NOTHING_DUE.date() + dt.timedelta(days=7), reminders_sent=0, escalation_level=0)
            )
    with runtime.sessions() as session:
        open_tasks = session.scalar(
            select(func.count()).select_from(HumanTask).where(HumanTask.state.in_(ACTIONABLE_TASK_STATES))
        )
    started = time.perf_counter()
    advanced = reconcile_cycle(runtime, cycle_id, now=NOTHING_DUE)
    reconcile = time.perf_counter() - started
    started = time.perf_counter()
    report = sweep(runtime, now=NOTHING_DUE, advance=False)
    time_driven = time.perf_counter() - started
    rss = peak_rss_mb()
    runtime.engine.dispose()
    raw, raw_rows = _raw_fetch(path, cycle_id)
    return {
        "open_tasks": open_tasks,
        "reconcile_s": reconcile,
        "reconcile_changed": advanced.changed,
        "time_driven_s": time_driven,
        "sweep_s": reconcile + time_driven,
        "reminder_emails": report.reminder_emails,
        "reminded_tasks": report.reminded_tasks,
        "peak_rss_mb": rss,
        "raw_s": raw,
        "raw_rows": raw_rows,
    }


CASES = (("a sweep, nothing due", 0.0, False), ("a sweep, 10% due for a reminder", 0.1, False))
FIRST_OF_DAY = ("the first sweep of a day (the whole cycle reconciled), nothing due", 0.0, True)


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--db", type=Path, help="a prepared database (with --one)")
        parser.add_argument("--due", type=float, default=0.0, help="share of open tasks due (with --one)")
        parser.add_argument("--first-of-day", action="store_true", help="the day's first sweep (with --one)")
        parser.set_defaults(employees=[e for e, _ in SIZES])

    args = arguments(__doc__, extra)
    if args.one:
        emit(one(args.db, args.due, args.first_of_day))
        return
    folder = Path(tempfile.mkdtemp(prefix="aarshjul-bench-sweep-"))
    units = dict(SIZES)
    print(f"sweep: the safety-net reconcile plus the time-driven work, {args.runs} runs each (min / median / max)")
    for employees in args.employees:
        prepared = _build(employees, units.get(employees, employees * 6 // 100), folder)
        for what, due, first in (*CASES, FIRST_OF_DAY):
            runs = []
            for run in range(args.runs):
                copy = folder / f"run-{employees}-{run}.sqlite3"
                _copy(prepared, copy)
                command = [sys.executable, "-m", "bench.sweep", "--one", "--db", str(copy), "--due", str(due)]
                done = subprocess.run(
                    [*command, *(["--first-of-day"] if first else [])], capture_output=True, text=True
                )
                if done.returncode != 0:
                    sys.stderr.write(done.stderr)
                    raise SystemExit("bench.sweep failed")
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
                copy.unlink()
            _report(employees, units.get(employees), what, runs)


def _report(employees: int, units: int | None, what: str, runs: list[dict[str, Any]]) -> None:
    print(f"\n{employees} employees in {units} units, {runs[0]['open_tasks']} open tasks: {what}")
    sweep_s = column(runs, "sweep_s")
    verdict = "within" if statistics.median(sweep_s) <= TARGET_SECONDS else "OVER"
    print(f"  sweep: {spread(sweep_s)} s -> {verdict} {TARGET_SECONDS:.0f} s")
    print(f"    reconcile (the safety net): {spread(column(runs, 'reconcile_s'))} s")
    print(f"    time-driven work: {spread(column(runs, 'time_driven_s'))} s", end="")
    print(f" ({runs[0]['reminder_emails']} reminder emails for {runs[0]['reminded_tasks']} tasks)")
    rss = column(runs, "peak_rss_mb")
    print(f"    peak RSS: {spread(rss)} MB ({'within' if max(rss) <= TARGET_RSS_MB else 'OVER'} {TARGET_RSS_MB} MB)")
    raw = column(runs, "raw_s")
    ratios = [s / r for s, r in zip(sweep_s, raw, strict=True)]
    verdict = "within" if statistics.median(ratios) <= TARGET_RATIO else "OVER"
    print(f"  yardstick, raw sqlite3 fetching the {runs[0]['raw_rows']} open task rows: {spread(raw)} s")
    print(f"  ratio sweep / raw fetch: {spread(ratios)}x -> {verdict} {TARGET_RATIO:.0f}x")


if __name__ == "__main__":
    main()
