"""How a use case asks for follow-up work without waiting for it.

After a submission commits, the advance should run for that cycle's unit (``unit_id``: what the
submission can change, recorded as owed in its transaction; None asks for the whole cycle), and after
mail is queued the dispatcher should run. ``reason`` names the run (``cycle-2027/after-submission``).
The service gets a ``PrefectTriggers`` (service/triggers.py) that starts deployment runs without
waiting; tests use the fakes in ``tests/fakes.py``.
"""

from __future__ import annotations

from typing import Protocol

from aarshjul.domain.enums import AdvanceReason


class Triggers(Protocol):
    def advance(
        self, cycle_id: int, unit_id: int | None = None, reason: AdvanceReason = AdvanceReason.REQUESTED
    ) -> None: ...

    def dispatch(self) -> None: ...


class NoTriggers:
    """For one-off commands: the schedule's safety-net runs will pick the work up."""

    def advance(
        self, cycle_id: int, unit_id: int | None = None, reason: AdvanceReason = AdvanceReason.REQUESTED
    ) -> None:
        return None

    def dispatch(self) -> None:
        return None
