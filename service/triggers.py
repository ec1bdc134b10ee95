"""Starting flow runs without waiting for them: the ``Triggers`` the web tier uses.

A trigger only creates a run on the Prefect server (``run_deployment(..., timeout=0)``, about 50 ms);
a worker (or the embedded runner) executes it. It is done on a background thread (below), so a web
request never waits for it, and because Prefect's sync/async bridge would hand back an un-awaited coroutine
if called from inside the service's event loop.

Triggers coalesce (``aarshjul.usecases.shared.coalescing``): every trigger for a cycle until its next
run begins is answered with that same pending run, so a burst of submissions starts one run, not one
each. The run advances every unit whose advance is owed (each submission recorded its own in its
transaction), not only the unit of the trigger that created it, so no trigger that joined it is lost.
If the Prefect API cannot be reached, the work runs here in the background instead (the unit's
advance, the dispatcher), so nothing waits for the sweep.

In the embedded default (``aarshjul serve`` with its own Prefect server on this machine, ``run_here``)
the advance of a unit also runs here at once, and the dispatcher with it when it queued mail: a flow
run waits for the runner's poll and a new process, seconds a person who just submitted should not
wait for their colleague's next task. The deployment run still starts: it is the visible record and
the safety net, and finds the work done (the advance is idempotent and clears what was owed; mail is
claimed once).

The background work runs on a ``Coalescing`` queue: at most two threads (an advance inside the web
process holds the GIL for milliseconds, and a thread per submission left a burst of them queueing for
the GIL and SQLite's write lock ahead of the requests), one job per key at a time, and a job asked for
again while it still waits to begin is not queued twice (bench/http_submit.py).

Lives in ``service`` because the web tier starts the runs and the flows never do; deployment and run
names come from ``aarshjul.orchestration``, which the flows use too.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import httpx
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL, temporary_settings

from aarshjul.domain.enums import AdvanceReason
from aarshjul.orchestration import (
    ADVANCE_DEPLOYMENT,
    DISPATCH_DEPLOYMENT,
    DISPATCH_KEY,
    advance_key,
    advance_run_name,
    cycle_tag,
    dispatch_run_name,
)
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.lifecycle import year_of_cycle
from aarshjul.usecases.shared.coalescing import pending_generation, retire
from notifications.dispatcher import dispatch_due

log = logging.getLogger(__name__)

#: What can go wrong when the Prefect server is down, restarting or missing the deployment.
UNREACHABLE = (httpx.HTTPError, PrefectHTTPStatusError, ObjectNotFound, OSError, TimeoutError)


#: Threads for the background work of one web process (see the module's docstring): two, so a
#: dispatcher waiting on the mail service does not hold up the advances.
BACKGROUND_THREADS = 2
#: How long a unit's advance waits before it begins, so that the submissions of a burst in the unit
#: (a deadline-day rush, a leader entering a day's talks) share one advance: under 16 clients it cut
#: the web process's CPU per submission by about a tenth (bench/http_submit.py), and a quarter of a
#: second is nothing beside the seconds until the next person's invitation arrives.
ADVANCE_GATHER_SECONDS = 0.25


class Coalescing:
    """Jobs run in the background, in the order asked for, on at most ``threads`` threads that start
    when there is work and end when there is none.

    Each job has a key (what it does: advance this unit of this cycle), and a key's job is idempotent
    and reads what it needs when it begins. So a job asked for while the same key still waits to begin
    is covered by the waiting one (it begins after the asker's commit), and one asked for while the
    same key runs waits and runs once more afterwards (the running one may have read before the
    asker's commit), however often it was asked for meanwhile. No ask is lost; a burst of them in one
    unit costs one or two advances, not one each."""

    def __init__(self, threads: int = BACKGROUND_THREADS) -> None:
        self.threads = threads
        #: key -> (job, when it may begin), in the order asked for
        self._waiting: dict[Hashable, tuple[Callable[[], object], float]] = {}
        self._running: set[Hashable] = set()
        self._alive = 0
        self._changed = threading.Condition()

    def submit(self, key: Hashable, job: Callable[[], object], gather: float = 0.0) -> bool:
        """Run ``job`` in the background, unless the same key already waits (False: covered by it).
        ``gather``: seconds it waits before it may begin, so that the asks of a burst join it."""
        with self._changed:
            if key in self._waiting:
                return False
            self._waiting[key] = (job, time.monotonic() + gather)
            if self._alive < self.threads:
                self._alive += 1
                threading.Thread(target=self._work, name=f"background-{self._alive}", daemon=True).start()
            else:
                self._changed.notify_all()  # a thread waiting for a later job's time may take this one
            return True

    def wait(self, timeout: float) -> bool:
        """Wait until nothing waits or runs (what a job asks for counts too); False on the timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._waiting and not self._running, timeout)

    def _next(self) -> tuple[Hashable, Callable[[], object]] | float | None:
        """The first job whose time has come and whose key does not run (its turn comes when the
        running job ends); else the seconds until the first such job's time; None if there is none."""
        now = time.monotonic()
        soonest: float | None = None
        for key, (job, begins) in self._waiting.items():
            if key in self._running:
                continue
            if begins <= now:
                del self._waiting[key]
                return key, job  # iteration ends here, so deleting the key is safe
            soonest = begins - now if soonest is None else min(soonest, begins - now)
        return soonest

    def _work(self) -> None:
        while True:
            with self._changed:
                found = self._next()
                while isinstance(found, float):
                    self._changed.wait(found)
                    found = self._next()
                if found is None:
                    self._alive -= 1
                    self._changed.notify_all()
                    return
                key, job = found
                self._running.add(key)
            try:
                job()
            except Exception:  # what a job owes is recorded; the sweep pays it
                log.exception("background job %s failed", key)
            finally:
                with self._changed:
                    self._running.discard(key)
                    self._changed.notify_all()


@dataclass(frozen=True)
class RunRequest:
    deployment: str
    key: str  #: the coalescing key: one pending run per key
    parameters: dict[str, Any]
    tags: list[str]
    name: Callable[[], str]
    fallback: Callable[[], object] | None  #: what to do here when Prefect cannot be reached


class PrefectTriggers:
    """Implements ``aarshjul.triggers.Triggers`` with coalesced deployment runs on a Prefect server."""

    def __init__(self, runtime: Runtime, api_url: str, run_here: bool = False) -> None:
        self.runtime = runtime
        self.api_url = api_url
        self.run_here = run_here
        self.background = Coalescing()

    def advance(
        self, cycle_id: int, unit_id: int | None = None, reason: AdvanceReason = AdvanceReason.REQUESTED
    ) -> None:
        def advance_here() -> object:
            return advance_cycle(self.runtime, cycle_id, unit_id=unit_id)

        self._start(
            unit_id,
            RunRequest(
                deployment=ADVANCE_DEPLOYMENT,
                key=advance_key(cycle_id, whole=unit_id is None),
                parameters={"cycle_id": cycle_id, "unit_id": unit_id, "reason": reason.value},
                tags=[cycle_tag(cycle_id), "advance"],
                name=lambda: advance_run_name(year_of_cycle(self.runtime, cycle_id), reason.value),
                fallback=advance_here,
            ),
            first=advance_here if self.run_here else None,
            gather=ADVANCE_GATHER_SECONDS,
        )

    def dispatch(self) -> None:
        def dispatch_here() -> object:
            return dispatch_due(self.runtime)

        if self.run_here:
            self.background.submit("dispatch-here", dispatch_here)
            return  # the dispatcher's safety schedule sends what this misses
        self._start(
            None,
            RunRequest(
                deployment=DISPATCH_DEPLOYMENT,
                key=DISPATCH_KEY,
                parameters={},
                tags=["dispatch"],
                name=lambda: dispatch_run_name(dt.datetime.now(dt.UTC), self.runtime.settings.zone),
                fallback=dispatch_here,
            ),
        )

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for the submissions in flight (tests, and a clean shutdown), and for what they start
        (an advance here starts the dispatcher here)."""
        self.background.wait(timeout)

    def _start(
        self, unit_id: int | None, request: RunRequest, first: Callable[[], object] | None = None, gather: float = 0.0
    ) -> None:
        # One job per run key and unit: the unit's advance here (its fallback, too) is what differs.
        self.background.submit((request.key, unit_id), lambda: self._submit(request, first), gather)

    def _submit(self, request: RunRequest, first: Callable[[], object] | None) -> None:
        fallback = request.fallback
        if first is not None:
            try:
                first()
                fallback = None  # done already; the run below is the record and the safety net
            except Exception:  # the run below still does it, or else the sweep: it is owed
                log.exception("could not run %s here; leaving it to the flow run", request.key)
        try:
            with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
                self._create_or_join(request)
        except UNREACHABLE as exc:
            log.warning("could not start %s on %s (%s)", request.deployment, self.api_url, exc)
            if fallback is not None:
                log.warning("running %s here instead", request.key)
                fallback()

    def _create_or_join(self, request: RunRequest) -> None:
        # Once more only if the pending run ended without beginning (it is then retired); a database
        # restored from a backup may meet one such run per key.
        for _ in range(3):
            generation = pending_generation(self.runtime, request.key)
            run: FlowRun = run_deployment(  # type: ignore[assignment]  # called from a thread: the run itself
                request.deployment,
                parameters=request.parameters,
                timeout=0,
                tags=request.tags,
                as_subflow=False,
                idempotency_key=generation.idempotency_key,
                flow_run_name=request.name(),
            )
            if run.state is None or not run.state.is_final():
                return
            if not retire(self.runtime, generation):
                return  # a run began meanwhile: it reads after our caller's commit
            log.warning("the pending run %s of %s ended without beginning (%s)", run.name, request.key, run.state.type)
