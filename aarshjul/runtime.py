"""What a running process needs, built once from the settings: the database and the clock.

The service builds one at start-up and passes it on; a flow run in the Prefect runner builds its
own from the same environment through ``get_runtime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from aarshjul.clock import Clock, system_clock
from aarshjul.db.engine import make_engine, make_session_factory
from aarshjul.domain.cycle_spec import CycleDefinition, load_definition
from aarshjul.settings import Settings, get_settings
from aarshjul.triggers import NoTriggers, Triggers


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default=system_clock)
    triggers: Triggers = field(default_factory=NoTriggers)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = system_clock) -> Runtime:
        engine = make_engine(settings.resolved_database_url)
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=clock)

    def cycle_definition(self) -> CycleDefinition:
        return self.cycle_definition_of(self.settings)

    @staticmethod
    def cycle_definition_of(settings: Settings) -> CycleDefinition:
        return load_definition(settings.cycle_definition_path)


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    return Runtime.from_settings(get_settings())
