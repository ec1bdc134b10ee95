from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aarshjul.presentation.templating import environment, format_date, format_datetime

MOMENT = dt.datetime(2027, 3, 31, 22, 30, tzinfo=dt.UTC)  # 1 April 00:30 in Oslo (summer time)


def test_dates_read_as_people_write_them() -> None:
    assert format_date(dt.date(2027, 1, 4), "nb") == "4. januar 2027"
    assert format_date(dt.date(2027, 1, 4), "en") == "4 January 2027"
    assert format_date("2027-12-31", "nb") == "31. desember 2027"
    assert format_date(None) == ""


def test_times_are_shown_in_the_organisations_zone() -> None:
    assert format_datetime(MOMENT, "nb") == "1. april 2027 00:30"
    assert format_datetime(MOMENT, "en", ZoneInfo("Atlantic/Reykjavik")) == "31 March 2027 22:30"


def test_template_filters_take_the_zone_from_the_render() -> None:
    template = environment().from_string("{{ t | datetime('nb') }} / {{ t | date('nb') }}")
    assert template.render(t=MOMENT) == "1. april 2027 00:30 / 1. april 2027"
    assert template.render(t=MOMENT, _zone=ZoneInfo("Atlantic/Reykjavik")) == "31. mars 2027 22:30 / 31. mars 2027"
