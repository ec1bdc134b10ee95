from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from aarshjul.presentation.templating import environment, format_date, format_datetime, format_number

MOMENT = dt.datetime(2027, 3, 31, 22, 30, tzinfo=dt.UTC)  # 1 April 00:30 in Oslo (summer time)
OSLO = ZoneInfo("Europe/Oslo")
REYKJAVIK = ZoneInfo("Atlantic/Reykjavik")


def test_dates_read_as_people_write_them() -> None:
    assert format_date(dt.date(2027, 1, 4), "nb", OSLO) == "4. januar 2027"
    assert format_date(dt.date(2027, 1, 4), "en", OSLO) == "4 January 2027"
    assert format_date("2027-12-31", "nb", OSLO) == "31. desember 2027"
    assert format_date(None, "nb", OSLO) == ""
    # A moment is the date it is where the organisation is.
    assert format_date(MOMENT, "nb", OSLO) == "1. april 2027"
    assert format_date(MOMENT, "en", REYKJAVIK) == "31 March 2027"


def test_times_are_shown_in_the_organisations_zone() -> None:
    # Babel (CLDR) joins the date and the time as each language does: a comma in bokmål and British English.
    assert format_datetime(MOMENT, "nb", OSLO) == "1. april 2027, 00:30"
    assert format_datetime(MOMENT, "en", REYKJAVIK) == "31 March 2027, 22:30"
    assert format_datetime(None, "en", OSLO) == ""


def test_numbers_are_grouped_as_the_language_groups_them() -> None:
    assert format_number(4000, "nb") == "4\xa0000"  # a no-break space, so the number never breaks over lines
    assert format_number(4000, "en") == "4,000"
    assert format_number(2.5, "nb") == "2,5"


def test_template_filters_take_the_zone_from_the_render() -> None:
    template = environment().from_string("{{ t | datetime('nb') }} / {{ t | date('nb') }}")
    assert template.render(t=MOMENT, _zone=OSLO) == "1. april 2027, 00:30 / 1. april 2027"
    assert template.render(t=MOMENT, _zone=REYKJAVIK) == "31. mars 2027, 22:30 / 31. mars 2027"


def test_a_template_rendered_without_a_zone_does_not_guess_one() -> None:
    template = environment().from_string("{{ t | date('nb') }}")
    with pytest.raises(LookupError, match="time zone"):
        template.render(t=MOMENT)
