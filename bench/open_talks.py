"""Benchmark: open the talks step for a generated organisation of 10,000 employees in 600 units.

Prints how long the advance takes and, as the yardstick, how long raw ``sqlite3`` takes to insert
the same rows (the tasks and the invitation emails) into an empty copy of the schema, in the same
run and on the same disk. Not a test: run it with ``.venv/bin/python bench/open_talks.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import insert, select, update

from aarshjul.clock import ManualClock
from aarshjul.db.engine import make_engine, make_session_factory, unit_of_work
from aarshjul.db.models import Base, HumanTask, Notification, Organisation, Person, StrategyPeriod, Unit, UnitStep
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.start import start_cycle

START = dt.datetime(2027, 1, 4, 7, tzinfo=dt.UTC)
BEFORE_TALKS = ["strategy_review", "unit_goals", "action_plan", "needs_mapping", "measure_proposals"]


def build_org(runtime: Runtime, employees: int, units: int) -> None:
    """A root, a middle level of 24 units and leaf units holding the employees; a leader in each."""
    middle = 24
    with unit_of_work(runtime.sessions) as session:
        organisation = Organisation(name="Benchmark kommune")
        session.add(organisation)
        session.flush()
        session.add(StrategyPeriod(organisation_id=organisation.id, name="2025–2028", first_year=2025, last_year=2028))
        unit_rows = [{"id": 1, "organisation_id": organisation.id, "code": "U1", "name": "Root", "parent_id": None}]
        for i in range(2, units + 1):
            parent = 1 if i <= middle + 1 else 2 + (i % middle)
            unit_rows.append(
                {"id": i, "organisation_id": organisation.id, "code": f"U{i}", "name": f"Unit {i}", "parent_id": parent}
            )
        session.execute(insert(Unit), [{**r, "active": True} for r in unit_rows])
        people = []
        for i in range(1, units + 1):
            people.append(
                {"id": i, "unit_id": i, "role": "leader", "name": f"Leader {i}", "email": f"leader{i}@example.no"}
            )
        people.append({"id": units + 1, "unit_id": 1, "role": "hr", "name": "HR", "email": "hr@example.no"})
        leaves = list(range(middle + 2, units + 1))
        for n in range(employees):
            pid = units + 2 + n
            unit = leaves[n % len(leaves)]
            people.append(
                {"id": pid, "unit_id": unit, "role": "employee", "name": f"Employee {n}", "email": f"e{n}@example.no"}
            )
        session.execute(
            insert(Person),
            [{**p, "organisation_id": organisation.id, "language": "nb", "employee_no": str(p["id"])} for p in people],
        )
        session.execute(update(Unit), [{"id": i, "leader_id": i} for i in range(1, units + 1)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=600)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aarshjul-bench-"))
    settings = Settings(data_dir=work, secret_key=SecretStr("bench-" + "x" * 40))
    engine = make_engine(settings.resolved_database_url)
    Base.metadata.create_all(engine)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=ManualClock(START))
    build_org(runtime, args.employees, args.units)
    cycle_id = start_cycle(runtime, 2027)
    # Bring every unit to the talks step: steps 1–5 done, their tasks submitted.
    with unit_of_work(runtime.sessions) as session:
        session.execute(
            update(UnitStep)
            .where(UnitStep.step_key.in_(BEFORE_TALKS))
            .values(state="done", opened_at=START, done_at=START)
        )
        session.execute(update(HumanTask).values(state="submitted", submitted_at=START))
    with runtime.sessions() as session:
        tasks_before = len(session.scalars(select(HumanTask.id)).all())
        mails_before = len(session.scalars(select(Notification.id)).all())

    started = time.perf_counter()
    report = advance_cycle(runtime, cycle_id)
    advance_seconds = time.perf_counter() - started

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
    engine.dispose()

    raw_path = work / "raw.sqlite3"
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

    print(f"organisation: {args.employees} employees in {args.units} units (SQLite file in {work})")
    print(
        f"advance opening the talks step: {report.steps_opened} unit steps, {report.tasks_created} tasks, "
        f"{report.invitations_queued} invitations in {advance_seconds:.3f} s"
    )
    print(f"raw sqlite3 inserting the same {len(task_values)} tasks and {len(mail_values)} emails: {raw_seconds:.3f} s")
    print(f"ratio advance / raw sqlite3: {advance_seconds / raw_seconds:.1f}x")


if __name__ == "__main__":
    main()
