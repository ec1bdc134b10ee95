"""Starting flow runs without waiting for them: the ``Triggers`` the service uses.

``run_deployment(..., timeout=0)`` only creates the run (about 50 ms); it is done on a short-lived
thread so a web request never waits for it, and because Prefect's sync/async bridge would hand back
an un-awaited coroutine if called from inside the service's event loop. If the Prefect API cannot be
reached the work runs here in a background thread instead, so nothing is lost; the scheduled sweep
repairs anything that still slips through.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL, temporary_settings

from aarshjul.runtime import Runtime
from flows.cycle_flows import ANNUAL_CYCLE_DEPLOYMENT, cycle_tag

log = logging.getLogger(__name__)

#: What can go wrong when the Prefect server is down, restarting or missing the deployment.
UNREACHABLE = (httpx.HTTPError, PrefectHTTPStatusError, ObjectNotFound, OSError, TimeoutError)


class PrefectTriggers:
    """Implements ``aarshjul.triggers.Triggers`` with deployment runs on a Prefect server."""

    def __init__(self, runtime: Runtime, api_url: str, dispatch_deployment: str | None = None) -> None:
        self.runtime = runtime
        self.api_url = api_url
        self.dispatch_deployment = dispatch_deployment
        self._threads: list[threading.Thread] = []

    def advance(self, cycle_id: int, unit_id: int | None = None) -> None:
        from aarshjul.usecases.cycle.advance import advance_cycle

        self._start(
            ANNUAL_CYCLE_DEPLOYMENT,
            {"cycle_id": cycle_id, "unit_id": unit_id},
            [cycle_tag(cycle_id)],
            fallback=lambda: advance_cycle(self.runtime, cycle_id, unit_id=unit_id),
        )

    def dispatch(self) -> None:
        if self.dispatch_deployment is None:
            return  # no dispatcher deployment is served; its own schedule sends the mail
        self._start(self.dispatch_deployment, {}, ["dispatch"], fallback=None)

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for the submissions in flight (tests, and a clean shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _start(
        self, name: str, parameters: dict[str, Any], tags: list[str], fallback: Callable[[], object] | None
    ) -> None:
        thread = threading.Thread(
            target=self._submit, args=(name, parameters, tags, fallback), name=f"trigger:{name}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _submit(
        self, name: str, parameters: dict[str, Any], tags: list[str], fallback: Callable[[], object] | None
    ) -> None:
        try:
            with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
                run_deployment(name, parameters=parameters, timeout=0, tags=tags, as_subflow=False)
        except UNREACHABLE as exc:
            log.warning("could not start %s on %s (%s); running it here instead", name, self.api_url, exc)
            if fallback is not None:
                fallback()
