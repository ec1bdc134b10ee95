"""How a use case asks for follow-up work without waiting for it.

After a submission commits, the advance flow should run for that cycle, and after mail is queued the
dispatcher should run. The service gets a ``PrefectTriggers`` (service/triggers.py) that starts
deployment runs without waiting; tests use the fakes in ``tests/fakes.py``.
"""

from __future__ import annotations

from typing import Protocol

from aarshjul.domain.enums import AdvanceReason


class Triggers(Protocol):
    def advance(self, cycle_id: int, reason: AdvanceReason = AdvanceReason.REQUESTED) -> None: ...

    def dispatch(self) -> None: ...


class NoTriggers:
    """For one-off commands: the schedule's safety-net runs will pick the work up."""

    def advance(self, cycle_id: int, reason: AdvanceReason = AdvanceReason.REQUESTED) -> None:
        return None

    def dispatch(self) -> None:
        return None
