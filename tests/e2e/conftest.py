"""Shared end-to-end fixtures: the real service over HTTP on a free local port, and a real browser.

``live_runtime`` is a fresh SQLite database (in a file, so the server thread and the test share it)
with a manual clock; ``live_server`` serves it with uvicorn and yields the base URL; ``browser`` is
Debian's chromium driven by Playwright; screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from aarshjul.clock import ManualClock
from aarshjul.db.engine import make_engine, make_session_factory
from aarshjul.db.models import Base
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from service.app import create_app
from tests.conftest import TEST_SECRET

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=tmp_path, secret_key=TEST_SECRET, base_url="http://127.0.0.1", environment="development"
    )
    engine = make_engine(settings.resolved_database_url)
    Base.metadata.create_all(engine)
    clock = ManualClock(dt.datetime(2027, 1, 4, 7, 0, tzinfo=dt.UTC))
    yield Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=clock)
    engine.dispose()


@pytest.fixture
def live_server(live_runtime: Runtime) -> Iterator[str]:
    """The real service on 127.0.0.1 in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(live_runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is
    # open, which would break later tests that call asyncio.run (Prefect flows) in the same session.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="nb-NO", viewport={"width": 430, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
