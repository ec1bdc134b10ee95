"""How a use case asks for follow-up work without waiting for it.

After a submission commits, the advance flow should run for that cycle, and after mail is queued the
dispatcher should run. The service gets a ``PrefectTriggers`` (flows/triggers.py) that starts
deployment runs without waiting; tests get ``RecordingTriggers`` or ``InlineTriggers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Triggers(Protocol):
    def advance(self, cycle_id: int) -> None: ...

    def dispatch(self) -> None: ...


class NoTriggers:
    """For one-off commands: the schedule's safety-net runs will pick the work up."""

    def advance(self, cycle_id: int) -> None:
        return None

    def dispatch(self) -> None:
        return None


class RecordingTriggers:
    """Remembers what was asked for; tests assert on it."""

    def __init__(self) -> None:
        self.advanced: list[int] = []
        self.dispatched = 0

    def advance(self, cycle_id: int) -> None:
        self.advanced.append(cycle_id)

    def dispatch(self) -> None:
        self.dispatched += 1


class InlineTriggers:
    """Runs the work at once in this process (tests and the CLI)."""

    def __init__(self, advance: Callable[[int], object], dispatch: Callable[[], object]) -> None:
        self._advance = advance
        self._dispatch = dispatch

    def advance(self, cycle_id: int) -> None:
        self._advance(cycle_id)

    def dispatch(self) -> None:
        self._dispatch()
