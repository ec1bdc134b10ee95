"""One holder at a time of a Prefect concurrency slot, handed on promptly (flows/exclusive.py)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest
from prefect import get_client

from flows.exclusive import exclusive

pytestmark = pytest.mark.prefect
log = logging.getLogger(__name__)


def test_the_slot_is_created_on_first_use_and_handed_on_within_a_poll(prefect_api: None) -> None:
    name = f"test-exclusive-{uuid.uuid4().hex[:8]}"
    events: list[tuple[str, float]] = []

    async def hold(label: str, seconds: float, inside: asyncio.Event) -> None:
        async with exclusive(name, log) as held:
            assert held
            events.append((f"{label} in", time.monotonic()))
            inside.set()
            await asyncio.sleep(seconds)
            events.append((f"{label} out", time.monotonic()))

    async def scenario() -> int:
        first_inside = asyncio.Event()
        first = asyncio.create_task(hold("first", 4.0, first_inside))
        await first_inside.wait()  # the first one holds the slot (and has created the limit)
        await asyncio.gather(first, hold("second", 0.1, asyncio.Event()))
        async with get_client() as client:
            return (await client.read_global_concurrency_limit_by_name(name)).limit

    assert asyncio.run(scenario()) == 1
    order = [label for label, _ in events]
    assert order == ["first in", "first out", "second in", "second out"]
    handed_on = events[2][1] - events[1][1]
    # Prefect's own retry waits as long as the server says, several seconds after a few refusals.
    assert handed_on < 2.5, f"the waiting holder came in {handed_on:.1f} s after the slot was free"
