"""Benchmark: open the talks step for a generated organisation (10,000 employees in 600 units, and
50,000 in 3,000): one advance creates a preparation task for every employee and every leader below
the top, and the invitation emails.

Prints how long the advance takes, how many statements it sends, and, as the yardstick, how long raw
``sqlite3`` takes to insert the same rows (the tasks and the invitation emails) into an empty copy of
the schema, in the same run and on the same disk. Run: ``.venv/bin/python -m bench.open_talks``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
import time
from typing import Any

from sqlalchemy import event, select

from aarshjul.db.engine import make_engine
from aarshjul.db.models import Base, HumanTask, Notification
from aarshjul.usecases.cycle.advance import advance_cycle
from bench.common import (
    BEFORE_TALKS,
    START,
    arguments,
    bring_to_talks,
    build_org,
    column,
    emit,
    make_runtime,
    run_each,
    spread,
    units_for,
)

__all__ = ["BEFORE_TALKS", "START", "build_org"]  # bench/board.py builds on these
TARGET_RATIO = 2.0


def one(employees: int) -> dict[str, Any]:
    runtime = make_runtime()
    build_org(runtime, employees, units_for(employees))
    cycle_id = bring_to_talks(runtime)
    with runtime.sessions() as session:
        tasks_before = len(session.scalars(select(HumanTask.id)).all())
        mails_before = len(session.scalars(select(Notification.id)).all())

    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(runtime.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    report = advance_cycle(runtime, cycle_id)
    advance_seconds = time.perf_counter() - started
    event.remove(runtime.engine, "before_cursor_execute", count)

    task_columns = [c.name for c in HumanTask.__table__.columns if c.name != "id"]
    mail_columns = [c.name for c in Notification.__table__.columns if c.name != "id"]
    with runtime.sessions() as session:
        task_rows = [
            tuple(r)
            for r in session.execute(select(*[HumanTask.__table__.c[c] for c in task_columns]).offset(tasks_before))
        ]
        mail_rows = [
            tuple(r)
            for r in session.execute(select(*[Notification.__table__.c[c] for c in mail_columns]).offset(mails_before))
        ]
    runtime.engine.dispose()

    raw_path = runtime.settings.data_dir / "raw.sqlite3"
    raw_engine = make_engine(f"sqlite:///{raw_path}")
    Base.metadata.create_all(raw_engine)
    raw_engine.dispose()

    def plain(value: object) -> object:
        if isinstance(value, dict | list):
            return json.dumps(value)
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        return value

    task_values = [tuple(plain(v) for v in row) for row in task_rows]
    mail_values = [tuple(plain(v) for v in row) for row in mail_rows]
    connection = sqlite3.connect(raw_path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=OFF")  # the raw copy has no people or units to point at
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        f"INSERT INTO human_task ({', '.join(task_columns)}) VALUES ({', '.join('?' * len(task_columns))})", task_values
    )
    connection.executemany(
        f"INSERT INTO notification ({', '.join(mail_columns)}) VALUES ({', '.join('?' * len(mail_columns))})",
        mail_values,
    )
    connection.execute("COMMIT")
    raw_seconds = time.perf_counter() - started
    connection.close()
    return {
        "steps_opened": report.steps_opened,
        "tasks": report.tasks_created,
        "invitations": report.invitations_queued,
        "seconds": advance_seconds,
        "statements": statements,
        "raw_s": raw_seconds,
    }


def main() -> None:
    args = arguments(__doc__)
    if args.one:
        emit(one(args.employees[0]))
        return
    results = run_each("bench.open_talks", args)
    print(f"open_talks: one advance opens the talks step everywhere, {args.runs} runs (min / median / max)")
    for employees, runs in results.items():
        first = runs[0]
        print(
            f"\n{employees} employees in {units_for(employees)} units: {first['steps_opened']} unit steps,"
            f" {first['tasks']} tasks, {first['invitations']} invitations, {first['statements']} statements"
        )
        print(f"  advance: {spread(column(runs, 'seconds'))} s")
        print(f"  yardstick, raw sqlite3 inserting the same rows: {spread(column(runs, 'raw_s'))} s")
        ratios = [a / r for a, r in zip(column(runs, "seconds"), column(runs, "raw_s"), strict=True)]
        verdict = "within" if statistics.median(ratios) <= TARGET_RATIO else "OVER"
        print(f"  ratio advance / raw sqlite3: {spread(ratios)}x -> {verdict} {TARGET_RATIO:.0f}x")


if __name__ == "__main__":
    main()
