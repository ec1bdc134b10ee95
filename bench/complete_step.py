"""Benchmark: every employee completes a per-employee step (the talk preparation) through the real use
case (``submit_form``, what ``POST /api/t/{token}`` calls), then the advance.

Prints completions per second, p50/p95 per completion, the advance after one submission (scoped to
its unit, p50/p95 over 200 submissions spread over the organisation, each followed by its advance as
the trigger does; leaf units, of the same size at every size of organisation, apart from the middle
level's, which grow with it),
the advance after the last completion and the full reconcile that follows, and peak RSS. Yardsticks in
the same run: raw ``sqlite3`` doing the same updates and inserts, one transaction per completion, on a
copy of the same database; and (``--spiff``, if SpiffWorkflow is installed; not a dependency of the
project) SpiffWorkflow completing a multi-instance user task of as many instances, at 10,000 only.

Run from the repository root: ``.venv/bin/python -m bench.complete_step`` (both sizes, three runs each).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import sqlite3
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aarshjul.db.models import AuditEvent, CriticalNeed, HumanTask, Submission
from aarshjul.domain.enums import AdvanceReason, FormKey, TaskState
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_token
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.work.submitting import submit_form
from bench.common import (
    START,
    arguments,
    build_org,
    column,
    emit,
    make_runtime,
    open_talks,
    peak_rss_mb,
    percentile,
    run_each,
    spread,
    units_for,
)

ADVANCED_AT_ONCE = 200  #: submissions each followed by its unit's advance (the figure "advance after one")
#: A unit with more talk preparations than this is one of the middle level's (its leader talks with
#: every leaf unit's leader below it: 25 at 10,000 employees, 124 at 50,000); the leaf units hold
#: about 17 employees at every size. The advance is timed for both kinds on their own: its cost follows
#: its unit's size, which in this organisation's middle level grows with the organisation.
LEAF_AT_MOST = 20
TARGET_SECONDS_PER_10K = 10.0
TARGET_ADVANCE_MS = 20.0
SPIFF_UP_TO = 10_000  #: its completions are quadratic: 50,000 would take hours


class _Counting:
    """Triggers that only count: the advance is timed on its own."""

    def __init__(self) -> None:
        self.advances = 0

    def advance(
        self, cycle_id: int, unit_id: int | None = None, reason: AdvanceReason = AdvanceReason.REQUESTED
    ) -> None:
        self.advances += 1

    def dispatch(self) -> None:
        return None


def _preparations(runtime: Runtime, cycle_id: int) -> list[tuple[int, int, str, dict[str, Any]]]:
    """(task id, unit id, link, valid input) for every open preparation, in id order."""
    secret = runtime.settings.secret()
    with runtime.sessions() as session:
        needs: dict[int, list[int]] = {}
        for need_id, unit_id in session.execute(select(CriticalNeed.id, CriticalNeed.unit_id)):
            needs.setdefault(unit_id, []).append(need_id)
        rows = session.execute(
            select(HumanTask.id, HumanTask.unit_id, HumanTask.assignee_id, HumanTask.link_version)
            .where(HumanTask.cycle_id == cycle_id, HumanTask.form_key == FormKey.TALK_PREPARATION)
            .order_by(HumanTask.id)
        ).all()
    return [
        (
            r.id,
            r.unit_id,
            task_token(secret, TaskLinkClaims(r.id, r.assignee_id, r.link_version)),
            {
                "self_assessment": [
                    {"critical_need_id": n, "mastery": 3, "comment": "Greit"} for n in sorted(needs.get(r.unit_id, []))
                ],
                "unused_competence": "Litt programmering",
                "development_wishes": "Lære mer om sakssystemet",
                "share_self_assessment": True,
                "share_unused_competence": False,
                "share_wishes": True,
            },
        )
        for r in rows
    ]


def _raw_sqlite(path: Path, work: list[tuple[int, int, str, dict[str, Any]]], actor_of: dict[int, int]) -> float:
    """The same writes with nothing in between: the task's state, a new version, an audit event and the
    unit's advance owed; one transaction each, as the use case commits each completion on its own."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    now = START.isoformat(sep=" ")
    started = time.perf_counter()
    cycle_id = connection.execute("SELECT cycle_id FROM human_task WHERE id = ?", (work[0][0],)).fetchone()[0]
    for task_id, unit_id, _token, data in work:
        actor = actor_of[task_id]
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "UPDATE human_task SET state = ?, submitted_at = ? WHERE id = ?", (TaskState.SUBMITTED.value, now, task_id)
        )
        connection.execute(
            f"INSERT INTO {Submission.__tablename__} (task_id, version, is_draft, data, submitted_by_id, created_at) "
            "VALUES (?, 1, 0, ?, ?, ?)",
            (task_id, json.dumps(data), actor, now),
        )
        connection.execute(
            f"INSERT INTO {AuditEvent.__tablename__}"
            " (occurred_at, actor, action, object_type, object_id, before, after)"
            " VALUES (?, ?, 'task.submit', 'task', ?, ?, ?)",
            (now, f"person:{actor}", str(task_id), '{"state": "open"}', '{"state": "submitted", "version": 1}'),
        )
        connection.execute(
            "INSERT INTO advance_request (cycle_id, unit_id, requested) VALUES (?, ?, 1)"
            " ON CONFLICT (cycle_id, unit_id) DO UPDATE SET requested = requested + 1",
            (cycle_id, unit_id),
        )
        connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def _spiff(instances: int) -> float | None:
    """SpiffWorkflow completing a parallel multi-instance user task: every instance run, then the
    engine steps that finish the task; None when SpiffWorkflow is not installed. (Its completions are
    quadratic: each looks at its siblings; engine steps after each one would cost more still.)"""
    try:
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState as SpiffState
    except ImportError:
        return None
    bpmn = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="talks" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare"/>
    <bpmn:userTask id="prepare" name="Talk preparation">
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopCardinality xsi:type="bpmn:tFormalExpression">{instances}</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
    parser = BpmnParser()
    path = Path(__file__).resolve().parent / ".spiff-talks.bpmn"
    path.write_text(bpmn)
    try:
        parser.add_bpmn_file(str(path))
    finally:
        path.unlink()
    workflow = BpmnWorkflow(parser.get_spec("talks"))
    started = time.perf_counter()
    workflow.do_engine_steps()
    ready = [t for t in workflow.get_tasks(state=SpiffState.READY) if t.task_spec.name != "prepare"]
    for task in ready:
        task.data["development_wishes"] = "Lære mer om sakssystemet"
        task.run()
    workflow.do_engine_steps()
    seconds = time.perf_counter() - started
    assert workflow.is_completed(), "SpiffWorkflow did not finish the multi-instance task"
    return seconds


def one(employees: int, database_url: str | None, spiff: bool) -> dict[str, Any]:
    runtime = make_runtime(database_url)
    build_org(runtime, employees, units_for(employees))
    cycle_id = open_talks(runtime)
    work = _preparations(runtime, cycle_id)
    with runtime.sessions() as session:
        actor_of = {r.id: r.assignee_id for r in session.execute(select(HumanTask.id, HumanTask.assignee_id))}
    raw_path: Path | None = None
    if runtime.engine.dialect.name == "sqlite":
        raw_path = runtime.settings.data_dir / "raw.sqlite3"
        with (
            sqlite3.connect(runtime.settings.data_dir / "aarshjul.sqlite3") as source,
            sqlite3.connect(raw_path) as copy,
        ):
            source.backup(copy)
    triggers = _Counting()
    runtime.triggers = triggers
    # What the service does once it has started (aarshjul/cli.py): the long-lived objects, here the
    # organisation built and the inputs prepared, leave the collector's view.
    gc.freeze()
    runtime.clock.set(START + dt.timedelta(hours=1))  # type: ignore[attr-defined]

    per_completion: list[float] = []
    # Spread over the whole organisation (every n-th submission), not the first ones: those are all in
    # the few middle-level units that come first in id order.
    unit_size = Counter(unit_id for _, unit_id, _, _ in work)
    timed = set(range(0, len(work), max(1, len(work) // ADVANCED_AT_ONCE)))
    advances: dict[bool, list[float]] = {True: [], False: []}  # in a leaf unit? -> seconds
    started = time.perf_counter()
    for index, (_task_id, unit_id, token, data) in enumerate(work):
        before = time.perf_counter()
        submit_form(runtime, token, data)
        per_completion.append(time.perf_counter() - before)
        if index in timed:
            # What the trigger runs after this submission: the advance of its unit.
            before = time.perf_counter()
            advance_cycle(runtime, cycle_id, unit_id=unit_id)
            advances[unit_size[unit_id] <= LEAF_AT_MOST].append(time.perf_counter() - before)
    total = time.perf_counter() - started - sum(advances[True]) - sum(advances[False])
    leaf_sizes = [n for n in unit_size.values() if n <= LEAF_AT_MOST]
    middle_sizes = [n for n in unit_size.values() if n > LEAF_AT_MOST]
    completing_rss = peak_rss_mb()

    before = time.perf_counter()
    last = advance_cycle(runtime, cycle_id, unit_id=work[-1][1])
    last_advance = time.perf_counter() - before
    before = time.perf_counter()
    full = advance_cycle(runtime, cycle_id)
    full_advance = time.perf_counter() - before
    runtime.engine.dispose()

    raw = _raw_sqlite(raw_path, work, actor_of) if raw_path is not None else None
    peer = _spiff(len(work)) if spiff and employees <= SPIFF_UP_TO else None
    return {
        "employees": employees,
        "completions": len(work),
        "seconds": total,
        "per_second": len(work) / total,
        "p50_ms": percentile(per_completion, 0.5) * 1000,
        "p95_ms": percentile(per_completion, 0.95) * 1000,
        "advance_p50_ms": percentile(advances[True], 0.5) * 1000,
        "advance_p95_ms": percentile(advances[True], 0.95) * 1000,
        "advances_timed": len(advances[True]),
        "leaf_unit_tasks": statistics.median(leaf_sizes) if leaf_sizes else 0,
        "middle_advance_p50_ms": percentile(advances[False], 0.5) * 1000,
        "middle_advances_timed": len(advances[False]),
        "middle_unit_tasks": statistics.median(middle_sizes) if middle_sizes else 0,
        "last_advance_ms": last_advance * 1000,
        "last_advance_tasks": last.tasks_created,
        "full_advance_s": full_advance,
        "full_advance_tasks": full.tasks_created,
        "peak_rss_mb": completing_rss,
        "raw_s": raw,
        "spiff_s": peer,
        "triggered": triggers.advances,
    }


def main() -> None:
    args = arguments(__doc__, lambda p: p.add_argument("--spiff", action="store_true", help="also time SpiffWorkflow"))
    if args.one:
        emit(one(args.employees[0], args.database_url, args.spiff))
        return
    results = run_each("bench.complete_step", args, ["--spiff"] if args.spiff else [])
    print(f"complete_step: one per-employee step through submit_form, {args.runs} runs per size (min / median / max)")
    for employees, runs in results.items():
        n = runs[0]["completions"]
        print(f"\n{employees} employees ({n} talk preparations, {units_for(employees)} units)")
        print(f"  completing all through the use case: {spread(column(runs, 'seconds'))} s")
        print(f"    completions per second: {spread(column(runs, 'per_second'))}")
        print(f"    per completion p50: {spread(column(runs, 'p50_ms'))} ms, p95: {spread(column(runs, 'p95_ms'))} ms")
        print(f"    peak RSS: {spread(column(runs, 'peak_rss_mb'))} MB")
        per_10k = [s * 10_000 / n for s in column(runs, "seconds")]
        verdict = "within" if statistics.median(per_10k) <= TARGET_SECONDS_PER_10K else "OVER"
        print(f"    scaled to 10,000: {spread(per_10k)} s -> {verdict} the target of {TARGET_SECONDS_PER_10K:.0f} s")
        advance = column(runs, "advance_p50_ms")
        verdict = "within" if statistics.median(advance) <= TARGET_ADVANCE_MS else "OVER"
        print(
            f"  advance after one submission in a leaf unit ({runs[0]['leaf_unit_tasks']:.0f} preparations,"
            f" {runs[0]['advances_timed']} timed), p50: {spread(advance)} ms,"
            f" p95: {spread(column(runs, 'advance_p95_ms'))} ms -> {verdict} the target of {TARGET_ADVANCE_MS:.0f} ms"
        )
        print(
            f"  advance after one submission in a middle-level unit ({runs[0]['middle_unit_tasks']:.0f} preparations,"
            f" {runs[0]['middle_advances_timed']} timed), p50: {spread(column(runs, 'middle_advance_p50_ms'))} ms"
        )
        print(
            f"  advance after the last completion (its unit, {runs[0]['last_advance_tasks']} tasks):"
            f" {spread(column(runs, 'last_advance_ms'))} ms"
        )
        print(
            f"  full reconcile after all ({runs[0]['full_advance_tasks']} record tasks opened):"
            f" {spread(column(runs, 'full_advance_s'))} s"
        )
        if all(r["raw_s"] for r in runs):
            raw = column(runs, "raw_s")
            ratios = [s / r for s, r in zip(column(runs, "seconds"), raw, strict=True)]
            print(
                f"  yardstick, raw sqlite3 doing the same writes: {spread(raw)} s;"
                f" ratio use case / raw: {spread(ratios)}x"
            )
        if all(r["spiff_s"] for r in runs):
            spiff = column(runs, "spiff_s")
            ratios = [p / s for s, p in zip(column(runs, "seconds"), spiff, strict=True)]
            print(
                f"  peer, SpiffWorkflow {n}-instance multi-instance task: {spread(spiff)} s;"
                f" SpiffWorkflow / ours: {spread(ratios)}x"
            )


if __name__ == "__main__":
    main()
