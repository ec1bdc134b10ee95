"""Triggers coalesce: however many times an advance is asked for, one run waits per cycle.

The deployments are registered on the session's Prefect test server without anyone serving them,
so every run a trigger creates stays SCHEDULED and can be counted. Two trigger objects on one
database stand for two web processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterTags,
)
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelled

from aarshjul.domain.enums import AdvanceReason
from aarshjul.orchestration import DISPATCH_KEY, advance_key
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.shared.coalescing import enter, pending_generation
from flows.serve import deployments
from service.triggers import PrefectTriggers
from tests.builders import unit_id

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def registered(prefect_api: None) -> Iterator[str]:
    """The three deployments on the test server, served by nobody; yields the API URL."""
    from aarshjul.settings import Settings

    for deployment in deployments(Settings(secret_key="x" * 40)):
        deployment.apply()
    yield str(PREFECT_API_URL.value())


async def _all_runs(tag: str, deployment: str) -> list[Any]:
    async with get_client() as client:
        return list(
            await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])),
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])),
            )
        )


class NewRuns:
    """The runs of a cycle's advance created since this object was made (the test server is shared)."""

    def __init__(self, cycle_id: int) -> None:
        self.tag = f"cycle:{cycle_id}"
        self.earlier = {run.id for run in asyncio.run(_all_runs(self.tag, "annual-cycle"))}

    def __call__(self) -> list[Any]:
        return [run for run in asyncio.run(_all_runs(self.tag, "annual-cycle")) if run.id not in self.earlier]


def _burst(triggers: list[PrefectTriggers], action: str, times: int, *args: Any) -> None:
    """``times`` triggers at once from every trigger object, as a burst of requests would."""
    start = threading.Barrier(times)

    def fire(index: int) -> None:
        start.wait()
        getattr(triggers[index % len(triggers)], action)(*args)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for trigger in triggers:
        trigger.wait(timeout=60)


@pytest.fixture
def cycle_id(runtime: Runtime) -> int:
    seed_demo(runtime)
    return start_cycle(runtime, 2027, starts_on=dt.date(2027, 1, 4))


def test_a_burst_of_submissions_makes_one_pending_run_per_cycle(
    registered: str, runtime: Runtime, cycle_id: int
) -> None:
    webs = [PrefectTriggers(runtime, registered), PrefectTriggers(runtime, registered)]
    new_runs = NewRuns(cycle_id)
    hr = unit_id(runtime, "HR")
    _burst(webs, "advance", 20, cycle_id, hr, AdvanceReason.AFTER_SUBMISSION)
    runs = new_runs()
    assert len(runs) == 1
    assert runs[0].name == "cycle-2027/after-submission" and runs[0].state.is_scheduled()
    # The run advances every unit still owed when it begins (usecases.cycle.advance.advance_owed);
    # its parameter names the unit of the trigger that created it.
    assert runs[0].parameters == {"cycle_id": cycle_id, "unit_id": hr, "reason": "after-submission"}

    enter(runtime, advance_key(cycle_id))  # the pending run begins: what comes after needs a new one
    _burst(webs, "advance", 10, cycle_id, unit_id(runtime, "HEL"), AdvanceReason.AFTER_SUBMISSION)
    assert len(new_runs()) == 2


def test_a_request_for_the_whole_cycle_never_joins_a_run_for_what_is_owed(
    registered: str, runtime: Runtime, cycle_id: int
) -> None:
    triggers = PrefectTriggers(runtime, registered)
    new_runs = NewRuns(cycle_id)
    triggers.advance(cycle_id, unit_id(runtime, "HR"), AdvanceReason.AFTER_SUBMISSION)
    triggers.wait(timeout=60)
    triggers.advance(cycle_id)
    triggers.advance(cycle_id)
    triggers.wait(timeout=60)
    runs = new_runs()
    assert sorted(str(r.parameters.get("unit_id")) for r in runs) == sorted([str(unit_id(runtime, "HR")), "None"])


def test_a_pending_run_that_ended_without_beginning_is_replaced(
    registered: str, runtime: Runtime, cycle_id: int
) -> None:
    triggers = PrefectTriggers(runtime, registered)
    new_runs = NewRuns(cycle_id)
    triggers.advance(cycle_id, unit_id(runtime, "HR"), AdvanceReason.AFTER_SUBMISSION)
    triggers.wait(timeout=60)
    (first,) = new_runs()
    before = pending_generation(runtime, advance_key(cycle_id))

    async def cancel() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(first.id, Cancelled(), force=True)

    asyncio.run(cancel())
    triggers.advance(cycle_id, unit_id(runtime, "HEL"), AdvanceReason.AFTER_DECISION)
    triggers.wait(timeout=60)
    runs = new_runs()
    assert len(runs) == 2
    replacement = next(r for r in runs if r.id != first.id)
    assert replacement.state.is_scheduled() and replacement.name == "cycle-2027/after-decision"
    assert pending_generation(runtime, advance_key(cycle_id)).entered == before.entered + 1


def test_dispatch_triggers_coalesce_too(registered: str, runtime: Runtime) -> None:
    pending_generation(runtime, DISPATCH_KEY)  # a fresh database: its own generation, not an earlier test's
    webs = [PrefectTriggers(runtime, registered), PrefectTriggers(runtime, registered)]

    async def dispatch_runs() -> list[Any]:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["dispatch"]))
            )
        key = pending_generation(runtime, DISPATCH_KEY).idempotency_key
        return [r for r in runs if r.idempotency_key == key]

    _burst(webs, "dispatch", 12)
    runs = asyncio.run(dispatch_runs())
    assert len(runs) == 1 and runs[0].name.startswith("dispatch-20")
