"""What the web tier and the flows agree on about Prefect: deployment names, tags, run names, the
names of the concurrency limits and of the keys that coalesce triggers.

Plain names only (no Prefect import), so that both ``service`` and ``flows`` can use them without
importing each other. ``prefect.yaml`` spells the same deployment names.
"""

from __future__ import annotations

import datetime as dt

WORK_POOL = "aarshjul"

ADVANCE_FLOW = "annual_cycle"
ADVANCE_DEPLOYMENT = f"{ADVANCE_FLOW}/annual-cycle"
SWEEP_FLOW = "sweep"
SWEEP_DEPLOYMENT = f"{SWEEP_FLOW}/sweep"
DISPATCH_FLOW = "dispatch_outbox"
DISPATCH_DEPLOYMENT = f"{DISPATCH_FLOW}/dispatch"

#: How often the dispatcher runs on its own, to send what no trigger started (a retry that fell due).
DISPATCH_SAFETY_MINUTES = 5

#: Concurrency-limit leases are renewed while held; the server takes back the slot of a process
#: that died this long after its last renewal (Prefect's minimum), plus its repossessor's loop.
SLOT_LEASE_SECONDS = 60
#: How long a run waits for its slot before it works without one (the database still serialises
#: the work, so this only bounds how long a dead holder can delay it), asking every so often.
SLOT_WAIT_SECONDS = 180
SLOT_POLL_SECONDS = 0.5

DISPATCH_KEY = "dispatch"
DISPATCH_LIMIT = "aarshjul-dispatch"


def cycle_tag(cycle_id: int) -> str:
    return f"cycle:{cycle_id}"


def advance_key(cycle_id: int, whole: bool = False) -> str:
    """The trigger key of one cycle's advance (see ``aarshjul.usecases.shared.coalescing``): of the
    units whose advance is owed, or (``whole``) of the whole cycle. Two keys, so a request for the
    whole cycle never joins a pending run that advances only what is owed."""
    return f"advance:cycle:{cycle_id}:whole" if whole else f"advance:cycle:{cycle_id}"


def advance_limit(cycle_id: int) -> str:
    """The Prefect global concurrency limit (1) that lets one advance of a cycle run at a time."""
    return f"aarshjul-advance-cycle-{cycle_id}"


def advance_run_name(year: int | None, reason: str) -> str:
    return f"cycle-{year if year is not None else 'unknown'}/{reason}"


def sweep_run_name(moment: dt.datetime, zone: dt.tzinfo) -> str:
    return f"sweep-{moment.astimezone(zone):%Y-%m-%dT%H:%M}"


def dispatch_run_name(moment: dt.datetime, zone: dt.tzinfo) -> str:
    return f"dispatch-{moment.astimezone(zone):%Y-%m-%dT%H:%M:%S}"
