"""One run at a time of a kind of work, through a Prefect global concurrency limit of 1.

The limit is created on first use: acquiring with ``strict`` fails for a missing limit (without it,
a limit that does not exist would let everyone in), and the run creates it and tries again. The slot is
a lease the run renews while it works; if the process dies, the server takes the slot back about a
minute later. A run that waits longer than ``SLOT_WAIT_SECONDS`` goes ahead without the slot and says
so in its log: the database serialises the work anyway (an advisory lock per cycle on PostgreSQL,
the write lock on SQLite), so the limit only spares processes, never guards correctness, and a run
must never fail for want of it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, suppress

from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError, concurrency
from prefect.exceptions import ObjectAlreadyExists
from prefect.logging.loggers import LoggingAdapter

from aarshjul.orchestration import SLOT_LEASE_SECONDS, SLOT_WAIT_SECONDS


async def create_limit(name: str) -> None:
    async with get_client() as client:
        with suppress(ObjectAlreadyExists):  # another run created it a moment ago
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))


def _slot(name: str) -> AbstractAsyncContextManager[None]:
    return concurrency(
        name, occupy=1, timeout_seconds=SLOT_WAIT_SECONDS, lease_duration=SLOT_LEASE_SECONDS, strict=True
    )


@asynccontextmanager
async def exclusive(name: str, logger: LoggingAdapter | logging.Logger) -> AsyncIterator[bool]:
    """Hold the one slot of ``name`` while the block runs; yields whether the slot was had."""
    async with AsyncExitStack() as stack:
        held = True
        try:
            try:
                await stack.enter_async_context(_slot(name))
            except ConcurrencySlotAcquisitionError:
                await create_limit(name)  # the first run of this kind of work: the limit does not exist yet
                await stack.enter_async_context(_slot(name))
        except (TimeoutError, ConcurrencySlotAcquisitionError) as exc:
            logger.warning("working without the slot of %s (%s): the database keeps the work in turn", name, exc)
            held = False
        yield held
