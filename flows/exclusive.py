"""One run at a time of a kind of work, through a Prefect global concurrency limit of 1.

The limit is created on first use (a limit that does not exist would let everyone in). The slot is
a lease the run renews while it works; if the process dies, the server takes the slot back about a
minute later. A run that waits longer than ``SLOT_WAIT_SECONDS`` goes ahead without the slot and says
so in its log: the database serialises the work anyway (an advisory lock per cycle on PostgreSQL,
the write lock on SQLite), so the limit only spares processes, never guards correctness, and a run
must never fail for want of it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress

from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError, concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging.loggers import LoggingAdapter

from aarshjul.orchestration import SLOT_LEASE_SECONDS, SLOT_WAIT_SECONDS


async def ensure_limit(name: str) -> None:
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        with suppress(ObjectAlreadyExists):  # another run created it a moment ago
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))


@asynccontextmanager
async def exclusive(name: str, logger: LoggingAdapter | logging.Logger) -> AsyncIterator[bool]:
    """Hold the one slot of ``name`` while the block runs; yields whether the slot was had."""
    async with AsyncExitStack() as stack:
        held = True
        try:
            await ensure_limit(name)
            await stack.enter_async_context(
                concurrency(
                    name,
                    occupy=1,
                    timeout_seconds=SLOT_WAIT_SECONDS,
                    lease_duration=SLOT_LEASE_SECONDS,
                    strict=True,
                )
            )
        except (TimeoutError, ConcurrencySlotAcquisitionError) as exc:
            logger.warning("working without the slot of %s (%s): the database keeps the work in turn", name, exc)
            held = False
        yield held
