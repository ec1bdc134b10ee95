"""Deadlines, reminder and escalation rungs, evaluation dates: one clock, end of day in Oslo."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aarshjul.clock import end_of_day_utc, local_date
from aarshjul.domain.cycle_spec import EscalationRung
from aarshjul.domain.schedule import (
    days_late,
    due_evaluation_round,
    escalations_due,
    evaluation_rounds,
    reminder_due,
    reminders_passed,
    task_due_date,
)

#: The rules take the organisation's zone from the caller; these tests read them in Oslo's time.
OSLO = ZoneInfo("Europe/Oslo")
DUE = dt.date(2027, 3, 10)
LADDER = (EscalationRung(after_days=3, to="manager"), EscalationRung(after_days=10, to="hr"))


def utc(day: str, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=dt.UTC)


def test_due_dates_keep_a_minimum_time_to_respond() -> None:
    assert task_due_date(DUE, -4, dt.date(2027, 1, 4), 7) == dt.date(2027, 3, 6)
    assert task_due_date(DUE, 0, dt.date(2027, 3, 8), 7) == dt.date(2027, 3, 15)


def test_reminders_come_as_the_day_begins_in_oslo_and_once_per_rung() -> None:
    # 7 days before 10 March: 3 March begins at 23:00 UTC on 2 March (winter time).
    assert reminder_due(DUE, (7, 1), 0, utc("2027-03-02", 22, 59), OSLO) is None
    first = reminder_due(DUE, (7, 1), 0, utc("2027-03-02", 23), OSLO)
    assert first is not None and (first.rungs_sent, first.days_left) == (1, 7)
    assert reminder_due(DUE, (7, 1), 1, utc("2027-03-05"), OSLO) is None
    # After downtime both rungs have come: one reminder, the nearer one.
    late = reminder_due(DUE, (1, 7), 0, utc("2027-03-09", 12), OSLO)
    assert late is not None and (late.rungs_sent, late.days_left) == (2, 1)
    assert reminders_passed(DUE, (7, 1), utc("2027-03-05"), OSLO) == 1


def test_escalations_come_after_whole_days_late_each_rung_once() -> None:
    assert escalations_due(DUE, LADDER, 0, utc("2027-03-13", 22), OSLO) == ([], 0)
    rungs, level = escalations_due(DUE, LADDER, 0, utc("2027-03-13", 23), OSLO)
    assert ([r.to for r in rungs], level) == (["manager"], 1)
    assert escalations_due(DUE, LADDER, 1, utc("2027-03-15"), OSLO) == ([], 1)
    rungs, level = escalations_due(DUE, LADDER, 0, utc("2027-04-01"), OSLO)
    assert ([r.to for r in rungs], level) == (["manager", "hr"], 2)


def test_evaluation_defaults_to_the_end_of_the_measures_last_year() -> None:
    assert evaluation_rounds(None, 2028, 2028) == [(2028, dt.date(2028, 12, 31))]
    assert evaluation_rounds(dt.date(2027, 9, 1), 2027, 2027) == [(2027, dt.date(2027, 9, 1))]


def test_a_measure_over_several_years_is_evaluated_each_year_it_runs() -> None:
    assert evaluation_rounds(dt.date(2027, 9, 1), 2027, 2028) == [
        (2027, dt.date(2027, 9, 1)),
        (2028, dt.date(2028, 9, 1)),
    ]
    assert evaluation_rounds(None, 2026, 2027) == [(2026, dt.date(2026, 12, 31)), (2027, dt.date(2027, 12, 31))]
    assert evaluation_rounds(dt.date(2028, 2, 29), 2028, 2029)[1] == (2029, dt.date(2029, 2, 28))
    # The round that is due is the latest whose date has come.
    assert due_evaluation_round(dt.date(2027, 9, 1), 2027, 2028, dt.date(2027, 8, 31)) is None
    assert due_evaluation_round(dt.date(2027, 9, 1), 2027, 2028, dt.date(2028, 3, 1)) == (2027, dt.date(2027, 9, 1))
    assert due_evaluation_round(dt.date(2027, 9, 1), 2027, 2028, dt.date(2029, 1, 1)) == (2028, dt.date(2028, 9, 1))


def test_deadlines_are_the_end_of_the_day_in_oslo_across_the_clock_changes() -> None:
    # Summer time begins 28 March 2027 and ends 31 October 2027: an Oslo day ends at 22:00 or 23:00 UTC.
    assert end_of_day_utc(dt.date(2027, 3, 27), OSLO) == utc("2027-03-27", 23)
    assert end_of_day_utc(dt.date(2027, 3, 28), OSLO) == utc("2027-03-28", 22)
    assert end_of_day_utc(dt.date(2027, 10, 30), OSLO) == utc("2027-10-30", 22)
    assert end_of_day_utc(dt.date(2027, 10, 31), OSLO) == utc("2027-10-31", 23)
    # Due 1 April (summer time): "7 days" as 25 March begins (winter), "1 day" as 31 March begins (summer).
    due = dt.date(2027, 4, 1)
    assert reminders_passed(due, (7, 1), utc("2027-03-24", 22, 59), OSLO) == 0
    assert reminders_passed(due, (7, 1), utc("2027-03-24", 23), OSLO) == 1
    assert reminders_passed(due, (7, 1), utc("2027-03-30", 21, 59), OSLO) == 1
    assert reminders_passed(due, (7, 1), utc("2027-03-30", 22), OSLO) == 2
    # Due 25 March (winter): the manager rung comes as 29 March begins, an hour "earlier" in UTC.
    rungs, _ = escalations_due(dt.date(2027, 3, 25), LADDER, 0, utc("2027-03-28", 21, 59), OSLO)
    assert rungs == []
    rungs, level = escalations_due(dt.date(2027, 3, 25), LADDER, 0, utc("2027-03-28", 22), OSLO)
    assert ([r.to for r in rungs], level) == (["manager"], 1)
    assert days_late(dt.date(2027, 3, 25), utc("2027-03-28", 22, 30), OSLO) == 4
    assert local_date(utc("2027-10-31", 22, 30), OSLO) == dt.date(2027, 10, 31)
    assert local_date(utc("2027-10-31", 23, 30), OSLO) == dt.date(2027, 11, 1)


def test_a_day_ends_in_the_zone_the_caller_gives() -> None:
    tokyo, new_york = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")
    assert end_of_day_utc(dt.date(2027, 3, 27), tokyo) == utc("2027-03-27", 15)
    assert end_of_day_utc(dt.date(2027, 3, 27), new_york) == utc("2027-03-28", 4)  # summer time from 14 March
    # 16:00 UTC on 28 March is already the 29th in Tokyo, still the 28th in Oslo.
    assert days_late(dt.date(2027, 3, 25), utc("2027-03-28", 16), tokyo) == 4
    assert days_late(dt.date(2027, 3, 25), utc("2027-03-28", 16), OSLO) == 3
