"""Fakes of the ports the use cases depend on, subclassing nothing but honouring their protocols."""

from __future__ import annotations

from collections.abc import Callable

from aarshjul.domain.enums import AdvanceReason


class RecordingTriggers:
    """Remembers what was asked for; tests assert on it."""

    def __init__(self) -> None:
        self.advanced: list[int] = []
        self.advanced_units: list[tuple[int, int | None]] = []
        self.reasons: list[AdvanceReason] = []
        self.dispatched = 0

    def advance(
        self, cycle_id: int, unit_id: int | None = None, reason: AdvanceReason = AdvanceReason.REQUESTED
    ) -> None:
        self.advanced.append(cycle_id)
        self.advanced_units.append((cycle_id, unit_id))
        self.reasons.append(reason)

    def dispatch(self) -> None:
        self.dispatched += 1


class InlineTriggers:
    """Runs the work at once in this process (tests and the CLI)."""

    def __init__(self, advance: Callable[[int, int | None], object], dispatch: Callable[[], object]) -> None:
        self._advance = advance
        self._dispatch = dispatch

    def advance(
        self, cycle_id: int, unit_id: int | None = None, reason: AdvanceReason = AdvanceReason.REQUESTED
    ) -> None:
        self._advance(cycle_id, unit_id)

    def dispatch(self) -> None:
        self._dispatch()
