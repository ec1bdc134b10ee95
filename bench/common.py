"""What the benchmarks share: a generated organisation at a given size, a runtime on a fresh database,
the cycle brought to its talks step, and running each measurement in fresh processes so that every
figure (time and peak memory) is its own.

Every benchmark prints its yardstick measured in the same run and the ratio to it, at two sizes, as
the minimum / median / maximum of (default) three runs. The machine is shared: compare the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert, select, update

from aarshjul.clock import ManualClock
from aarshjul.db.engine import make_engine, make_session_factory, unit_of_work
from aarshjul.db.models import (
    Base,
    CriticalNeed,
    Cycle,
    HumanTask,
    Organisation,
    Person,
    StrategicGoal,
    StrategyPeriod,
    Unit,
    UnitGoal,
    UnitStep,
)
from aarshjul.domain.enums import CompetenceKind, CompetenceStrategy, TaskState, UnitStepState
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.start import start_cycle

START = dt.datetime(2027, 1, 4, 7, tzinfo=dt.UTC)
BEFORE_TALKS = ["strategy_review", "unit_goals", "action_plan", "needs_mapping", "measure_proposals"]
#: The two sizes every benchmark prints: (employees, units).
SIZES = ((10_000, 600), (50_000, 3_000))
NEEDS_PER_UNIT = 2


def units_for(employees: int) -> int:
    return dict(SIZES).get(employees, max(2, employees * 600 // 10_000))


def make_runtime(database_url: str | None = None, prefix: str = "aarshjul-bench-") -> Runtime:
    """A runtime on an empty database: a new SQLite file, or the given (emptied) database."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(data_dir=work, secret_key=SecretStr("bench-" + "x" * 40), database_url=database_url)
    engine = make_engine(settings.resolved_database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=ManualClock(START))


def build_org(runtime: Runtime, employees: int, units: int) -> None:
    """A root, a middle level of 24 units and leaf units holding the employees; a leader in each."""
    middle = 24
    with unit_of_work(runtime.sessions) as session:
        organisation = Organisation(name="Benchmark kommune")
        session.add(organisation)
        session.flush()
        period = StrategyPeriod(organisation_id=organisation.id, name="2025–2028", first_year=2025, last_year=2028)
        session.add(period)
        session.flush()
        session.add_all(
            [
                StrategicGoal(period_id=period.id, code=f"SM{i}", title=f"Hovedmål {i}", description="", position=i)
                for i in (1, 2)
            ]
        )
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


def bring_to_talks(runtime: Runtime) -> int:
    """Start the cycle and bring every unit to the talks step: steps 1–5 done, their tasks submitted,
    each unit with a goal and two critical needs (what the talk forms point at)."""
    cycle_id = start_cycle(runtime, 2027)
    with unit_of_work(runtime.sessions) as session:
        session.execute(
            update(UnitStep)
            .where(UnitStep.step_key.in_(BEFORE_TALKS))
            .values(state=UnitStepState.DONE, opened_at=START, done_at=START)
        )
        session.execute(update(HumanTask).values(state=TaskState.SUBMITTED, submitted_at=START))
        goal_id = session.scalar(select(StrategicGoal.id).order_by(StrategicGoal.id).limit(1))
        unit_ids = list(session.scalars(select(Unit.id).order_by(Unit.id)))
        goals = session.execute(
            insert(UnitGoal).returning(UnitGoal.id, UnitGoal.unit_id),
            [
                {
                    "cycle_id": cycle_id,
                    "unit_id": u,
                    "strategic_goal_id": goal_id,
                    "title": "Raskere svar",
                    "priority": 1,
                    "indicator": "Svartid",
                    "target": "Fem dager",
                    "retired": False,
                }
                for u in unit_ids
            ],
        ).all()
        session.execute(
            insert(CriticalNeed),
            [
                {
                    "cycle_id": cycle_id,
                    "unit_id": g.unit_id,
                    "unit_goal_id": g.id,
                    "competence_area_id": None,
                    "title": f"Behov {n}",
                    "kind": CompetenceKind.SKILLS,
                    "level_needed": 4,
                    "level_today": 2,
                    "passive_competence": "",
                    "strategy": CompetenceStrategy.DEVELOP,
                    "retired": False,
                }
                for g in goals
                for n in range(NEEDS_PER_UNIT)
            ],
        )
    return cycle_id


def open_talks(runtime: Runtime) -> int:
    """The cycle at its talks step with every preparation task out (the full advance opens them)."""
    cycle_id = bring_to_talks(runtime)
    advance_cycle(runtime, cycle_id)
    return cycle_id


def cycle_of(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        found = session.scalar(select(Cycle.id).order_by(Cycle.id.desc()).limit(1))
    assert found is not None
    return int(found)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far. Linux's ``ru_maxrss`` survives exec, so a process
    started by a big parent would report the parent's peak; VmHWM is this program's own."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def spread(values: Sequence[float]) -> str:
    """min / median / max, as the README's figures are given."""
    return f"{min(values):.3g} / {statistics.median(values):.3g} / {max(values):.3g}"


# --- running each measurement in its own process ------------------------------------------------


def arguments(description: str | None, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> Any:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--employees", type=int, nargs="*", default=[e for e, _ in SIZES])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per size (default 3)")
    parser.add_argument("--database-url", default=None, help="an empty database to use; default: a new SQLite file")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # one run, JSON out
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def run_each(module: str, args: Any, passthrough: Sequence[str] = ()) -> dict[int, list[dict[str, Any]]]:
    """Run ``module`` with ``--one`` for each size ``args.runs`` times, each in a fresh process (so
    each peak memory figure is that run's own). Returns the JSON results by size."""
    results: dict[int, list[dict[str, Any]]] = {}
    for employees in args.employees:
        for run in range(args.runs):
            command = [sys.executable, "-m", module, "--one", "--employees", str(employees), *passthrough]
            if args.database_url:
                command += ["--database-url", args.database_url]
            done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ), check=False)
            if done.returncode != 0:
                sys.stderr.write(done.stderr)
                raise SystemExit(f"{module} failed at {employees} employees (run {run + 1})")
            results.setdefault(employees, []).append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  ... {module} {employees} employees, run {run + 1}/{args.runs} done", file=sys.stderr)
    return results


def emit(result: dict[str, Any]) -> None:
    """The one line a ``--one`` run prints: its figures as JSON."""
    print(json.dumps(result))


def column(results: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in results]
