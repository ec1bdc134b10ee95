"""Starting flow runs without waiting for them: the ``Triggers`` the service uses.

``run_deployment(..., timeout=0)`` only creates the run (about 50 ms); it is done on a short-lived
thread so a web request never waits for it, and because Prefect's sync/async bridge would hand back
an un-awaited coroutine if called from inside the service's event loop. If the Prefect API cannot be
reached the work runs here in a background thread instead, so nothing is lost; the scheduled sweep
repairs anything that still slips through.

In the embedded default (``aarshjul serve`` with its own Prefect server on this machine) the advance
of a unit also runs here at once (``run_here``), and the dispatcher with it when it queued mail: a
flow run waits for the runner's poll and a new process, seconds a person who just submitted should not
wait for their colleague's next task. The deployment run still starts: it is the visible record, and
finds the work done (the advance is idempotent, mail is claimed once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL, temporary_settings

from aarshjul.runtime import Runtime
from flows.cycle_flows import ANNUAL_CYCLE_DEPLOYMENT, cycle_tag
from notifications.dispatcher import dispatch_due

log = logging.getLogger(__name__)

#: What can go wrong when the Prefect server is down, restarting or missing the deployment.
UNREACHABLE = (httpx.HTTPError, PrefectHTTPStatusError, ObjectNotFound, OSError, TimeoutError)


class PrefectTriggers:
    """Implements ``aarshjul.triggers.Triggers`` with deployment runs on a Prefect server."""

    def __init__(
        self, runtime: Runtime, api_url: str, dispatch_deployment: str | None = None, run_here: bool = False
    ) -> None:
        self.runtime = runtime
        self.api_url = api_url
        self.dispatch_deployment = dispatch_deployment
        self.run_here = run_here
        self._threads: list[threading.Thread] = []

    def advance(self, cycle_id: int, unit_id: int | None = None) -> None:
        from aarshjul.usecases.cycle.advance import advance_cycle

        def advance_here() -> object:
            return advance_cycle(self.runtime, cycle_id, unit_id=unit_id)

        self._start(
            ANNUAL_CYCLE_DEPLOYMENT,
            {"cycle_id": cycle_id, "unit_id": unit_id},
            [cycle_tag(cycle_id)],
            fallback=advance_here,
            first=advance_here if self.run_here else None,
        )

    def dispatch(self) -> None:
        def dispatch_here() -> object:
            return dispatch_due(self.runtime)

        if self.run_here:
            self._in_background("dispatch-here", dispatch_here)
            return  # the dispatcher's schedule is the safety net
        if self.dispatch_deployment is None:
            return  # no dispatcher deployment is served; its own schedule sends the mail
        self._start(self.dispatch_deployment, {}, ["dispatch"], fallback=dispatch_here)

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for the submissions in flight (tests, and a clean shutdown), and for what they start
        (an advance here starts the dispatcher here)."""
        deadline = time.monotonic() + timeout
        while True:
            alive = [t for t in self._threads if t.is_alive()]
            self._threads = alive
            if not alive or time.monotonic() >= deadline:
                return
            alive[0].join(max(0.0, deadline - time.monotonic()))

    def _start(
        self,
        name: str,
        parameters: dict[str, Any],
        tags: list[str],
        fallback: Callable[[], object] | None,
        first: Callable[[], object] | None = None,
    ) -> None:
        self._in_background(f"trigger:{name}", lambda: self._submit(name, parameters, tags, fallback, first))

    def _in_background(self, name: str, work: Callable[[], object]) -> None:
        thread = threading.Thread(target=work, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _submit(
        self,
        name: str,
        parameters: dict[str, Any],
        tags: list[str],
        fallback: Callable[[], object] | None,
        first: Callable[[], object] | None,
    ) -> None:
        if first is not None:
            first()
            fallback = None  # done already; the run below is the record and the safety net
        try:
            with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
                run_deployment(name, parameters=parameters, timeout=0, tags=tags, as_subflow=False)
        except UNREACHABLE as exc:
            log.warning("could not start %s on %s (%s); running it here instead", name, self.api_url, exc)
            if fallback is not None:
                fallback()
