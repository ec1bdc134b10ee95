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
from flows.cycle_flows import annual_cycle, sweep
from flows.triggers import PrefectTriggers
from tasks.context import use_runtime
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


def test_a_trigger_runs_the_advance_here_when_prefect_is_unreachable(runtime: Runtime) -> None:
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027, starts_on=dt.date(2027, 1, 5))
    runtime.clock.set(at("2027-01-05"))  # type: ignore[attr-defined]
    triggers = PrefectTriggers(runtime, "http://127.0.0.1:9/api")
    triggers.advance(cycle_id)
    triggers.wait(timeout=60)
    assert len(open_tasks(runtime)) == 8
