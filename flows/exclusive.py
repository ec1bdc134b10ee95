"""One run at a time of a kind of work, through a Prefect global concurrency limit of 1.

The limit is created on first use: acquiring with ``strict`` fails for a missing limit (without it,
a limit that does not exist would let everyone in), and the run creates it and tries again. The slot
is a lease the run renews while it works; if the process dies, the server takes the slot back about
a minute later.

A waiting run asks again every ``SLOT_POLL_SECONDS`` rather than when the server says: after a burst
the server's Retry-After grows towards 30 s (it counts every refused request), which measured as tens
of seconds between one advance ending and the next beginning. One run at most waits per cycle, so
the polling costs nothing. A run that waits longer than ``SLOT_WAIT_SECONDS`` goes ahead without the
slot and says so in its log: the database serialises the work anyway (an advisory lock per cycle on
PostgreSQL, the write lock on SQLite), so the limit only spares processes, never guards correctness,
and a run must never fail for want of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress

import httpx
from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError, concurrency
from prefect.exceptions import ObjectAlreadyExists
from prefect.logging.loggers import LoggingAdapter

from aarshjul.orchestration import SLOT_LEASE_SECONDS, SLOT_POLL_SECONDS, SLOT_WAIT_SECONDS


async def create_limit(name: str) -> None:
    async with get_client() as client:
        with suppress(ObjectAlreadyExists):  # another run created it a moment ago
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))


def _taken(exc: ConcurrencySlotAcquisitionError) -> bool:
    """The slot is held by someone else (423), as opposed to the limit not existing."""
    cause = exc.__cause__
    return isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == httpx.codes.LOCKED


async def _take_slot(stack: AsyncExitStack, name: str) -> bool:
    """Enter the slot of ``name`` on ``stack``; False when it stayed taken for ``SLOT_WAIT_SECONDS``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SLOT_WAIT_SECONDS
    created = False
    while True:
        try:
            slot = concurrency(name, occupy=1, lease_duration=SLOT_LEASE_SECONDS, strict=True)
            await stack.enter_async_context(slot)
            return True
        except ConcurrencySlotAcquisitionError as exc:
            if _taken(exc):
                if loop.time() >= deadline:
                    return False
                await asyncio.sleep(SLOT_POLL_SECONDS)
            elif not created:
                await create_limit(name)  # the first run of this kind of work: the limit does not exist yet
                created = True
            else:
                raise


@asynccontextmanager
async def exclusive(name: str, logger: LoggingAdapter | logging.Logger) -> AsyncIterator[bool]:
    """Hold the one slot of ``name`` while the block runs; yields whether the slot was had."""
    async with AsyncExitStack() as stack:
        try:
            held = await _take_slot(stack, name)
        except ConcurrencySlotAcquisitionError as exc:
            logger.warning("could not take the slot of %s (%s)", name, exc)
            held = False
        if not held:
            logger.warning("working without the slot of %s: the database keeps the work in turn", name)
        yield held
