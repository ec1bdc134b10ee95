"""The real flows, run through a Prefect server; the rules themselves are tested on plain functions."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from prefect import get_client

from aarshjul.domain.enums import AdvanceReason
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.shared.advances import owed
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from flows.cycle_flows import annual_cycle, sweep
from service.triggers import PrefectTriggers
from tasks.context import use_runtime
from tests.builders import find_tasks, unit_id, valid_input
from tests.fakes import RecordingTriggers
from tests.integration.cycle.helpers import at, notifications, open_tasks


@pytest.fixture
def flow_runtime(runtime: Runtime) -> Iterator[Runtime]:
    use_runtime(runtime)
    yield runtime
    use_runtime(None)


async def _runs() -> list[Any]:
    async with get_client() as client:
        return list(await client.read_flow_runs())


async def _task_runs(flow_run_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        return list(await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))))


@pytest.mark.prefect
def test_the_advance_and_the_sweep_run_as_prefect_flows(flow_runtime: Runtime, prefect_api: None) -> None:
    seed_demo(flow_runtime)
    cycle_id = start_cycle(flow_runtime, 2027, starts_on=dt.date(2027, 1, 5))
    assert open_tasks(flow_runtime) == []

    report = asyncio.run(annual_cycle(cycle_id, now=at("2027-01-05")))
    assert report["tasks_created"] == 8
    assert len(open_tasks(flow_runtime)) == 8

    swept = asyncio.run(sweep(now=at("2027-01-19")))
    assert swept["reminder_emails"] == 8
    assert len(notifications(flow_runtime, "task_reminder")) == 8

    runs = {run.name: run for run in asyncio.run(_runs())}
    advance_run = runs["cycle-2027/requested"]
    assert f"cycle:{cycle_id}" in advance_run.tags
    assert advance_run.state is not None and advance_run.state.is_completed()
    sweep_run = runs["sweep-2027-01-19T08:00"]
    assert {"sweep", f"cycle:{cycle_id}"} <= set(sweep_run.tags)
    assert sweep_run.state is not None and sweep_run.state.is_completed()
    advances = asyncio.run(_task_runs(sweep_run.id))
    assert [set(r.tags) >= {f"cycle:{cycle_id}"} for r in advances if r.name.startswith("advance-cycle")] == [True]


@pytest.mark.prefect
def test_each_advance_publishes_the_board_and_logs_what_it_did(flow_runtime: Runtime, prefect_api: None) -> None:
    seed_demo(flow_runtime)
    cycle_id = start_cycle(flow_runtime, 2027, starts_on=dt.date(2027, 1, 5))
    asyncio.run(annual_cycle(cycle_id, now=at("2027-01-05")))

    async def artifact_and_logs() -> tuple[Any, list[str]]:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, LogFilter, LogFilterFlowRunId
        from prefect.client.schemas.sorting import ArtifactSort

        async with get_client() as client:
            (artifact, *_) = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"cycle-{cycle_id}-board"])),
                sort=ArtifactSort.CREATED_DESC,
            )
            messages: list[str] = []
            for _ in range(40):  # the run's logs reach the server in batches, shortly after the run
                logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[artifact.flow_run_id])))
                messages = [entry.message for entry in logs]
                if any(m.startswith("the cycle has") for m in messages):
                    break
                await asyncio.sleep(0.25)
            return artifact, messages

    artifact, messages = asyncio.run(artifact_and_logs())
    assert artifact.type == "table"
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert len(rows) == 8 and rows[0]["1. Gjennomgang av strategiske fundament og mål"] == "open"
    assert "0 forsinkede oppgaver" in artifact.description
    assert any("created 8 tasks" in m and "queued 8 invitations" in m for m in messages), messages
    assert any(m.startswith("sent 9 emails") for m in messages), messages  # the invitations and HR's notice


@pytest.mark.prefect
def test_a_triggered_run_advances_every_unit_whose_advance_is_owed(flow_runtime: Runtime, prefect_api: None) -> None:
    """Triggers for a cycle join one pending run, whose parameter names only the unit of the first;
    the run reads what the others owe, so no submission that joined it waits for the sweep."""
    seed_demo(flow_runtime)
    cycle_id = start_cycle(flow_runtime, 2027)
    flow_runtime.triggers = RecordingTriggers()  # the submissions record what they owe, and no more
    units = [unit_id(flow_runtime, code) for code in ("HR", "HEL")]
    for unit in units:
        review = find_tasks(flow_runtime, cycle_id, "strategy_review", unit)[0]
        submit_form(flow_runtime, review.token, valid_input(open_task(flow_runtime, review.token)))
    with flow_runtime.sessions() as session:
        assert set(owed(session, cycle_id)) == set(units)
    assert [len(find_tasks(flow_runtime, cycle_id, "unit_goals", unit)) for unit in units] == [0, 0]

    report = asyncio.run(annual_cycle(cycle_id, unit_id=units[0], reason=AdvanceReason.AFTER_SUBMISSION))
    assert report["tasks_created"] == 2
    assert [len(find_tasks(flow_runtime, cycle_id, "unit_goals", unit)) for unit in units] == [1, 1]
    with flow_runtime.sessions() as session:
        assert owed(session, cycle_id) == {}


@pytest.mark.prefect
def test_what_a_sweep_queues_is_sent_by_the_sweep_itself(flow_runtime: Runtime, prefect_api: None) -> None:
    """Reminders go out with the sweep that found them due, not a dispatcher run later."""
    seed_demo(flow_runtime)
    start_cycle(flow_runtime, 2027)
    swept = asyncio.run(sweep(now=at("2027-01-19")))
    assert swept["reminder_emails"] == 8 and swept["dispatched"]["sent"] >= 8
    reminders = notifications(flow_runtime, "task_reminder")
    assert len(reminders) == 8 and {n.state for n in reminders} == {"sent"}


def test_a_trigger_runs_the_advance_here_when_prefect_is_unreachable(runtime: Runtime) -> None:
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027, starts_on=dt.date(2027, 1, 5))
    runtime.clock.set(at("2027-01-05"))  # type: ignore[attr-defined]
    triggers = PrefectTriggers(runtime, "http://127.0.0.1:9/api")
    triggers.advance(cycle_id)
    triggers.wait(timeout=60)
    assert len(open_tasks(runtime)) == 8


def test_in_the_embedded_default_a_submission_is_advanced_and_its_invitation_sent_here(runtime: Runtime) -> None:
    """With its own Prefect server the service does not wait for a flow run to start: the unit's
    advance and the dispatcher run here at once (the deployment run that follows finds them done)."""
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027)
    unit = unit_id(runtime, "HR")
    review = find_tasks(runtime, cycle_id, "strategy_review", unit)[0]
    triggers = PrefectTriggers(runtime, "http://127.0.0.1:9/api", run_here=True)
    runtime.triggers = triggers
    submit_form(runtime, review.token, valid_input(open_task(runtime, review.token)))
    triggers.wait(timeout=60)
    goals = find_tasks(runtime, cycle_id, "unit_goals", unit)
    assert len(goals) == 1
    invited = [n for n in notifications(runtime, "task_invitation") if goals[0].id in n.context["task_ids"]]
    assert [n.state for n in invited] == ["sent"]
