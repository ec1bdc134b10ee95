"""A burst of submissions in one unit, advanced in the web process as the embedded default does it
(``PrefectTriggers(run_here=True)``, its advances coalesced per unit): every submission is advanced,
none is lost, and nothing is left owed."""

from __future__ import annotations

import threading

from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.shared.advances import owed
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from service.triggers import PrefectTriggers
from tests.builders import demo_cycle, drive_unit, find_tasks, unit_id, valid_input

UNREACHABLE = "http://127.0.0.1:9/api"  # no Prefect server: the advance here is all there is


def test_a_burst_of_submissions_in_one_unit_advances_every_one(runtime: Runtime) -> None:
    cycle_id = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    drive_unit(runtime, cycle_id, unit, "talk_preparation")
    preparations = find_tasks(runtime, cycle_id, "talk_preparation", unit)
    assert len(preparations) >= 3
    answers = [(task.token, valid_input(open_task(runtime, task.token))) for task in preparations]
    assert not find_tasks(runtime, cycle_id, "talk_record", unit)

    triggers = PrefectTriggers(runtime, UNREACHABLE, run_here=True)
    runtime.triggers = triggers
    start = threading.Barrier(len(answers))

    def submit(token: str, data: dict[str, object]) -> None:
        start.wait()
        submit_form(runtime, token, data)

    threads = [threading.Thread(target=submit, args=answer) for answer in answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    triggers.wait(timeout=60)

    records = find_tasks(runtime, cycle_id, "talk_record", unit)
    assert sorted(r.subject_id for r in records) == sorted(p.subject_id for p in preparations)
    with runtime.sessions() as session:
        assert owed(session, cycle_id) == {}
    # The in-process advances left nothing for the full reconcile to do.
    report = advance_cycle(runtime, cycle_id)
    assert not report.changed
