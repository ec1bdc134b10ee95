"""The world the fuzz tests run in: the demo organisation, this year's cycle, an HR API token."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from starlette.types import Message, Receive, Scope, Send

from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from service.app import create_app
from tests.conftest import TEST_SECRET


@dataclass
class FuzzWorld:
    runtime: Runtime
    app: FastAPI
    token: str
    cycle_id: int

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class CurrentApp:
    """The app schemathesis calls: a test points it at its own world's app. Schemathesis keeps the
    app it was given on every operation it derives, so the schema holds this one object throughout."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.token = ""
        self.statuses: Counter[int] = Counter()  #: every answer's status, for the run's figures

    def use(self, world: FuzzWorld) -> None:
        self.app, self.token = world.app, world.token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no app: the test must set CurrentApp.app first")

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counted if scope["type"] == "http" else send)


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document; building it touches no database."""
    engine = create_engine("sqlite://")
    settings = Settings(secret_key=TEST_SECRET)
    return create_app(Runtime(settings=settings, engine=engine, sessions=sessionmaker(engine))).openapi()
