"""Running Prefect next to the service: a local server (unless one is configured) and a runner.

``aarshjul serve`` calls ``start_prefect(settings)``: unless ``PREFECT_API_URL`` points at a server,
it starts ``prefect server start`` on 127.0.0.1 and a free port, with its SQLite database under the
data directory (ephemeral mode cannot schedule and lost task records at exit) and finished flow runs
deleted after ``AARSHJUL_PREFECT_RETENTION_DAYS``, waits until the API is healthy, and starts a
runner process serving the deployments. A supervisor thread restarts either process if it dies.
``handle.stop()`` stops them.

This is the one-machine set-up. At scale the same flows run as the deployments of ``prefect.yaml``
on a work pool's workers, and ``aarshjul serve --web-only`` starts neither (docs/operations.md).

Run as ``python -m flows.serve`` this module is the runner process itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

import httpx

from aarshjul.orchestration import ADVANCE_DEPLOYMENT, DISPATCH_DEPLOYMENT, DISPATCH_SAFETY_MINUTES, SWEEP_DEPLOYMENT
from aarshjul.settings import Settings, get_settings

log = logging.getLogger(__name__)

SERVER_START_TIMEOUT = 90.0
SUPERVISE_EVERY = 2.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes] | None, role: str, what: str, timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail early if the process meant to serve it has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the Prefect {role} exited with code {process.returncode} while starting")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{what} within {timeout:.0f} s")


def wait_until_healthy(api_url: str, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    _wait_for(
        f"{api_url}/health", process, "server", f"the Prefect server at {api_url} did not become healthy", timeout
    )


def wait_for_deployment(api_url: str, name: str, runner: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Wait until the runner has registered a deployment, so the first trigger finds it."""
    _wait_for(
        f"{api_url}/deployments/name/{name}", runner, "runner", f"the deployment {name} was not registered", timeout
    )


def _runner_env(settings: Settings, api_url: str) -> dict[str, str]:
    """The runner builds its own runtime from the environment; give it the service's settings."""
    env = dict(os.environ)
    env["PREFECT_API_URL"] = api_url
    # The runner polls for runs to start; at its default of 10 s a submitter's next step could take
    # longer than the ~10 s we promise. A local server answers these queries in milliseconds.
    env.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")
    env["AARSHJUL_DATA_DIR"] = str(settings.data_dir.resolve())
    env["AARSHJUL_DATABASE_URL"] = settings.resolved_database_url
    env["AARSHJUL_TIME_ZONE"] = settings.time_zone
    env["AARSHJUL_BASE_URL"] = settings.base_url
    env["AARSHJUL_SWEEP_INTERVAL_MINUTES"] = str(settings.sweep_interval_minutes)
    env["AARSHJUL_DEMO"] = "true" if settings.demo else "false"
    if settings.secret_key is not None:
        env["AARSHJUL_SECRET_KEY"] = settings.secret_key.get_secret_value()
    if settings.cycle_definition_path is not None:
        env["AARSHJUL_CYCLE_DEFINITION_PATH"] = str(settings.cycle_definition_path.resolve())
    return env


def retention_env(settings: Settings) -> dict[str, str]:
    """The Prefect server deletes finished flow runs (with their logs and artifacts) after the retention period."""
    return {
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(settings.prefect_retention_days * 24 * 3600),
    }


@dataclass
class PrefectHandle:
    api_url: str
    ui_url: str
    settings: Settings
    server_port: int | None = None
    _server: subprocess.Popen[bytes] | None = None
    _runner: subprocess.Popen[bytes] | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def owns_server(self) -> bool:
        return self.server_port is not None

    def start_server(self) -> None:
        home = self.settings.prefect_home
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.pop("PREFECT_API_URL", None)
        env.update(
            {
                "PREFECT_HOME": str(home),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
                **retention_env(self.settings),
            }
        )
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        command += ["--port", str(self.server_port)]
        self._server = subprocess.Popen(
            command, env=env, stdout=self._log("server"), stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until_healthy(self.api_url, self._server, SERVER_START_TIMEOUT)

    def start_runner(self) -> None:
        self._runner = subprocess.Popen(
            [sys.executable, "-m", "flows.serve"],
            env=_runner_env(self.settings, self.api_url),
            stdout=self._log("runner"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _log(self, name: str) -> IO[bytes]:
        path = self.settings.prefect_home / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("ab")
        self._logs.append(handle)
        return handle

    def supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_EVERY):
            if self._server is not None and self._server.poll() is not None:
                log.warning("the Prefect server exited (code %s); restarting it", self._server.returncode)
                try:
                    self.start_server()
                except (RuntimeError, TimeoutError, OSError) as exc:
                    log.error("could not restart the Prefect server: %s", exc)
                    continue
            if self._runner is not None and self._runner.poll() is not None:
                log.warning("the Prefect runner exited (code %s); restarting it", self._runner.returncode)
                self.start_runner()

    def stop(self, timeout: float = 7.0) -> None:
        """Stop the runner, then the server, each with everything it started, within about 2 × timeout."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(SUPERVISE_EVERY + 1)
        # The runner first: it reports its runs' final states to the server on the way out.
        for process in (self._runner, self._server):
            if process is not None:
                stop_process_group(process, timeout)
        for handle in self._logs:
            handle.close()


def stop_process_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the process and everything it started (its own session and group), SIGKILL to
    whatever is left after ``timeout``: the server's workers and the runner's flow runs go too."""
    group = process.pid
    _signal_group(group, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("process %s did not stop within %.0f s; killing it", group, timeout)
    _signal_group(group, signal.SIGKILL)
    process.wait(timeout)


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(group, signum)


def start_prefect(settings: Settings) -> PrefectHandle:
    """Start (or join) a Prefect server and serve the deployments; returns the handle to stop them."""
    configured = os.environ.get("PREFECT_API_URL")
    port = None if configured else _free_port()
    api_url = configured.rstrip("/") if configured else f"http://127.0.0.1:{port}/api"
    handle = PrefectHandle(api_url=api_url, ui_url=api_url.removesuffix("/api"), settings=settings, server_port=port)
    try:
        if handle.owns_server:
            handle.start_server()
        else:
            wait_until_healthy(api_url, None, SERVER_START_TIMEOUT)
        handle.start_runner()
        wait_for_deployment(api_url, ADVANCE_DEPLOYMENT, handle._runner, SERVER_START_TIMEOUT)
    except BaseException:  # a failed start or a signal half-way: stop what did start, then go on failing
        handle.stop()
        raise
    handle._supervisor = threading.Thread(target=handle.supervise, name="prefect-supervisor", daemon=True)
    handle._supervisor.start()
    return handle


def deployments(settings: Settings) -> list[Any]:
    """The deployments the runner serves: the same three as ``prefect.yaml`` declares for a work pool."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType

    from flows.cycle_flows import annual_cycle, sweep
    from flows.dispatch import dispatch_outbox

    def name(deployment: str) -> str:
        return deployment.split("/", 1)[1]

    # Module paths, so the runner's flow-run subprocesses import the flows whatever the working directory.
    return [
        annual_cycle.to_deployment(
            name=name(ADVANCE_DEPLOYMENT), entrypoint_type=EntrypointType.MODULE_PATH, tags=["aarshjul"]
        ),
        sweep.to_deployment(
            name=name(SWEEP_DEPLOYMENT),
            interval=dt.timedelta(minutes=settings.sweep_interval_minutes),
            entrypoint_type=EntrypointType.MODULE_PATH,
            tags=["aarshjul", "sweep"],
            # A sweep still running when the next one is due: the next one is cancelled, not stacked.
            concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        ),
        dispatch_outbox.to_deployment(
            name=name(DISPATCH_DEPLOYMENT),
            interval=dt.timedelta(minutes=DISPATCH_SAFETY_MINUTES),
            entrypoint_type=EntrypointType.MODULE_PATH,
            tags=["aarshjul", "dispatch"],
        ),
    ]


def run_runner() -> None:
    from prefect import serve

    serve(*deployments(get_settings()), pause_on_shutdown=False, print_starting_message=False)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    run_runner()
