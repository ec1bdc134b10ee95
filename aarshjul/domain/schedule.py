"""Time rules of the cycle: task due dates, reminder and escalation rungs, evaluation dates.

Everything takes "now" from the caller (one clock), so a sweep can run as of any moment. A date
means the end of that day in the organisation's time zone, which the caller passes in from the settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aarshjul.clock import end_of_day_utc, local_date
from aarshjul.domain.cycle_spec import EscalationRung

#: Evaluation tasks belong to no step; they get the standard ladders.
EVALUATION_REMINDERS: tuple[int, ...] = (7, 1)
EVALUATION_ESCALATION: tuple[EscalationRung, ...] = (
    EscalationRung(after_days=3, to="manager"),
    EscalationRung(after_days=10, to="hr"),
)
#: A participant's survey of a measure: one reminder three days before it closes.
FEEDBACK_REMINDERS: tuple[int, ...] = (3,)


def task_due_date(step_due: dt.date, due_offset_days: int, opened_on: dt.date, min_days_to_respond: int) -> dt.date:
    """The step's deadline moved by the part's offset, but never less than the minimum time to respond.

    A unit that reaches a step late (its inputs came in late) still gets a fair amount of time.
    """
    return max(step_due + dt.timedelta(days=due_offset_days), opened_on + dt.timedelta(days=min_days_to_respond))


def evaluation_rounds(evaluate_on: dt.date | None, first_year: int, last_year: int) -> list[tuple[int, dt.date]]:
    """When a measure is evaluated: once for each year it runs, on its evaluation date's day in that
    year (from the year of the date on), or without a date on the last day of each year it runs."""
    if evaluate_on is None:
        return [(year, dt.date(year, 12, 31)) for year in range(first_year, last_year + 1)]
    return [
        (year, _same_day_in(evaluate_on, year))
        for year in range(evaluate_on.year, max(last_year, evaluate_on.year) + 1)
    ]


def due_evaluation_round(
    evaluate_on: dt.date | None, first_year: int, last_year: int, today: dt.date
) -> tuple[int, dt.date] | None:
    """The latest evaluation round whose date has come (a round missed while nothing ran is not
    caught up: the latest one asks about the same measure)."""
    due = [r for r in evaluation_rounds(evaluate_on, first_year, last_year) if r[1] <= today]
    return due[-1] if due else None


def _same_day_in(day: dt.date, year: int) -> dt.date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return day.replace(year=year, day=28)


def days_late(due_on: dt.date, now: dt.datetime, zone: ZoneInfo) -> int:
    return (local_date(now, zone) - due_on).days


def _reminder_ladder(days_before: Sequence[int]) -> list[int]:
    # Earliest rung first (most days before), so "rungs sent" is a prefix of the ladder.
    return sorted(set(days_before), reverse=True)


def reminder_moment(due_on: dt.date, days_before: int, zone: ZoneInfo) -> dt.datetime:
    """A reminder "N days before" goes out as the day N days before the due date begins (local
    midnight), so it can say "due in N days" all that day."""
    return end_of_day_utc(due_on - dt.timedelta(days=days_before + 1), zone)


def reminders_passed(due_on: dt.date, days_before: Sequence[int], now: dt.datetime, zone: ZoneInfo) -> int:
    """How many rungs of the reminder ladder have come by ``now``.

    Used when a task opens or its deadline moves: rungs already behind us are counted as sent, so
    a task that opens five days before its deadline gets no "seven days left" reminder.
    """
    return sum(1 for days in _reminder_ladder(days_before) if reminder_moment(due_on, days, zone) <= now)


@dataclass(frozen=True)
class ReminderDue:
    rungs_sent: int  #: the task's new ``reminders_sent``
    days_left: int  #: what the email says: the latest rung that has come


def reminder_due(
    due_on: dt.date, days_before: Sequence[int], rungs_sent: int, now: dt.datetime, zone: ZoneInfo
) -> ReminderDue | None:
    """The reminder to send now, if any. After downtime several rungs may have come; one email covers them."""
    ladder = _reminder_ladder(days_before)
    passed = reminders_passed(due_on, ladder, now, zone)
    if passed <= rungs_sent:
        return None
    return ReminderDue(rungs_sent=passed, days_left=ladder[passed - 1])


def escalation_moment(due_on: dt.date, after_days: int, zone: ZoneInfo) -> dt.datetime:
    return end_of_day_utc(due_on + dt.timedelta(days=after_days), zone)


def escalations_due(
    due_on: dt.date, ladder: Sequence[EscalationRung], level: int, now: dt.datetime, zone: ZoneInfo
) -> tuple[list[EscalationRung], int]:
    """Rungs of the escalation ladder that have come and were not sent yet, and the new level.

    Unlike reminders, every rung is sent even when several come at once: they go to different people.
    """
    passed = [rung for rung in ladder if escalation_moment(due_on, rung.after_days, zone) <= now]
    if len(passed) <= level:
        return [], level
    return passed[level:], len(passed)
