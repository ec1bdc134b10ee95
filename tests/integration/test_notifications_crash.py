"""Nothing lost, nothing twice: real SIGKILLs of a sending process, and a provider that fails for a while.

The provider is a local HTTP server speaking SendGrid's v3 mail-send API, driven through the real
``sendgrid`` library. Like a provider that honours idempotency keys, it accepts a message whose key
it has seen before without delivering it again, and counts every request it got.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from aarshjul.db.models import Notification, Person
from aarshjul.domain.enums import NotificationState
from aarshjul.runtime import Runtime
from notifications.backends import SendGridBackend
from notifications.dispatcher import LEASE, dispatch_due
from tests.notifications_support import World, add_task, build_world, queue

ROOT = Path(__file__).resolve().parents[2]


class FakeSendGrid:
    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.delivered: dict[str, dict[str, object]] = {}
        self.script: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with provider.lock:
                    provider.requests.append(body)
                    status, headers = provider.script.pop(0) if provider.script else (202, {})
                    key = str(body["custom_args"]["idempotency_key"])
                    if status == 202:
                        provider.delivered.setdefault(key, body)
                self.send_response(status)
                for name, value in {"X-Message-Id": f"sg-{key}", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def backend(self) -> SendGridBackend:
        return SendGridBackend("SG.test", host=self.url)


@pytest.fixture
def provider() -> Iterator[FakeSendGrid]:
    fake = FakeSendGrid()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def world(runtime: Runtime) -> World:
    with runtime.sessions.begin() as session:
        return build_world(session, runtime.clock())


def _queue_three(runtime: Runtime, world: World) -> list[str]:
    now = runtime.clock()
    keys = []
    with runtime.sessions.begin() as session:
        for index, person_id in enumerate((world.leader_id, world.employee_id, world.other_employee_id)):
            task = add_task(session, world, person_id, now)
            key = f"task_invitation:{person_id}:{index}"
            queue(session, key, session.get(Person, person_id), "task_invitation", {"task_ids": [task.id]}, now)
            keys.append(key)
    return keys


CHILD = """
import datetime as dt, os, pathlib, sys, time
from aarshjul.clock import fixed_clock
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from notifications.backends import MailBackend, SendGridBackend
from notifications.dispatcher import dispatch_due

marker = pathlib.Path(os.environ["CRASH_MARKER"])
crash_at = os.environ["CRASH_AT"]

class Crashing(MailBackend):
    name = "sendgrid"
    def __init__(self):
        self.inner = SendGridBackend("SG.test", host=os.environ["PROVIDER_URL"])
    def send(self, message):
        if crash_at == "after_send":
            self.inner.send(message)
        marker.write_text(message.idempotency_key)
        time.sleep(600)  # SIGKILLed here

settings = Settings(database_url=os.environ["DATABASE_URL"], secret_key=os.environ["SECRET"], base_url="http://testserver")
runtime = Runtime.from_settings(settings, clock=fixed_clock(dt.datetime.fromisoformat(os.environ["NOW"])))
dispatch_due(runtime, backend=Crashing())
sys.exit("the sender was meant to be killed before it finished")
"""


def _run_and_kill(runtime: Runtime, provider: FakeSendGrid, crash_at: str, tmp_path: Path) -> None:
    marker = tmp_path / f"marker-{crash_at}"
    env = {
        **os.environ,
        "CRASH_MARKER": str(marker),
        "CRASH_AT": crash_at,
        "PROVIDER_URL": provider.url,
        "DATABASE_URL": runtime.settings.resolved_database_url,
        "SECRET": runtime.settings.secret(),
        "NOW": runtime.clock().isoformat(),
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(f"the sender exited early: {child.stderr.read().decode() if child.stderr else ''}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError("the sender never reached the crash point")
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    if child.stderr:
        child.stderr.close()


@pytest.mark.parametrize("crash_at", ["before_send", "after_send"])
def test_a_killed_sender_loses_nothing_and_sends_nothing_twice(
    runtime: Runtime,
    world: World,
    provider: FakeSendGrid,
    crash_at: str,
    tmp_path: Path,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    keys = _queue_three(runtime, world)
    _run_and_kill(runtime, provider, crash_at, tmp_path)

    with runtime.sessions() as session:
        states = set(session.scalars(select(Notification.state)))
    assert states == {NotificationState.SENDING}  # claimed by the dead sender, none marked
    assert dispatch_due(runtime, backend=provider.backend()).claimed == 0  # its lease still holds

    clock.advance(seconds=LEASE.total_seconds() + 1)
    report = dispatch_due(runtime, backend=provider.backend())

    assert (report.reclaimed, report.sent) == (3, 3)
    assert sorted(provider.delivered) == sorted(keys)  # each message delivered exactly once
    expected_requests = 4 if crash_at == "after_send" else 3  # the resend carried the same key
    assert len(provider.requests) == expected_requests
    with runtime.sessions() as session:
        rows = session.scalars(select(Notification)).all()
        assert {r.state for r in rows} == {NotificationState.SENT}
        assert {r.attempts for r in rows} == {2}
    clock.advance(days=1)
    assert dispatch_due(runtime, backend=provider.backend()).claimed == 0
    assert len(provider.requests) == expected_requests


def test_a_provider_failing_for_a_while_gets_everything_through_once(
    runtime: Runtime,
    world: World,
    provider: FakeSendGrid,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    keys = _queue_three(runtime, world)
    provider.script = [(500, {})] * 4 + [(503, {}), (429, {"Retry-After": "90"})] + [(500, {})] * 2
    rounds = 0
    while len(provider.delivered) < 3:
        rounds += 1
        assert rounds < 20, "the outbox never recovered"
        dispatch_due(runtime, backend=provider.backend())
        with runtime.sessions() as session:
            pending = session.scalars(
                select(Notification.not_before).where(Notification.state == NotificationState.PENDING)
            ).all()
        if pending:
            clock.set(max(min(pending), clock()))
    assert sorted(provider.delivered) == sorted(keys)
    with runtime.sessions() as session:
        rows = session.scalars(select(Notification)).all()
        assert {r.state for r in rows} == {NotificationState.SENT}
        limited = [r for r in rows if r.last_error is None and r.attempts > 1]
        assert limited, "some message went through only after retries"
    assert len(provider.requests) == 3 + 8
    assert all(body["custom_args"]["idempotency_key"] in keys for body in provider.requests)  # type: ignore[index]


def test_the_429_retry_waits_for_retry_after(runtime: Runtime, world: World, provider: FakeSendGrid, clock) -> None:  # type: ignore[no-untyped-def]
    _queue_three(runtime, world)
    provider.script = [(429, {"Retry-After": "90"})] * 3
    start = clock()
    assert dispatch_due(runtime, backend=provider.backend()).retried == 3
    with runtime.sessions() as session:
        due = set(session.scalars(select(Notification.not_before)))
    assert due == {start + dt.timedelta(seconds=90)}
    clock.advance(seconds=89)
    assert dispatch_due(runtime, backend=provider.backend()).claimed == 0
    clock.advance(seconds=1)
    assert dispatch_due(runtime, backend=provider.backend()).sent == 3
