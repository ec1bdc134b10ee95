"""The real flows, run through a Prefect server; the rules themselves are tested on plain functions."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from prefect import get_client

from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from flows.cycle_flows import annual_cycle, sweep
from flows.triggers import PrefectTriggers
from tasks.context import use_runtime
from tests.builders import find_tasks, unit_id, valid_input
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
    advance_run = runs[f"annual-cycle-2027-c{cycle_id}"]
    assert f"cycle:{cycle_id}" in advance_run.tags
    assert advance_run.state is not None and advance_run.state.is_completed()
    sweep_run = runs["sweep-2027-01-19T07:00:00+00:00"]
    assert {"sweep", f"cycle:{cycle_id}"} <= set(sweep_run.tags)
    assert sweep_run.state is not None and sweep_run.state.is_completed()
    advances = asyncio.run(_task_runs(sweep_run.id))
    assert [set(r.tags) >= {f"cycle:{cycle_id}"} for r in advances if r.name.startswith("advance-cycle")] == [True]


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
