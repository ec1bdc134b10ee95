"""One clock for all time logic, so a sweep can run "as of" a moment and tests can step through a year.

The organisation's time zone is always passed in (from the settings), never assumed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fixed_clock(moment: dt.datetime) -> Clock:
    if moment.tzinfo is None:
        raise ValueError("a fixed clock needs an aware datetime")
    at = moment.astimezone(dt.UTC)
    return lambda: at


def end_of_day_utc(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """A deadline date means the end of that day in the organisation's time zone."""
    local = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone)
    return local.astimezone(dt.UTC)


def local_date(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


class ManualClock:
    """A clock that stands still until moved; for `sweep --now` and for tests that step through a year."""

    def __init__(self, moment: dt.datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a manual clock needs an aware datetime")
        self.moment = moment.astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.moment

    def set(self, moment: dt.datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a manual clock needs an aware datetime")
        self.moment = moment.astimezone(dt.UTC)

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)
