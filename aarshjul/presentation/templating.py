"""The one Jinja2 environment for pages and emails: autoescape on, gettext from the catalogues in i18n.py,
dates and numbers written the way the reader's language writes them (Babel).

Templates only format: they get view models or plain dicts, never ORM objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates, numbers
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from aarshjul.presentation.i18n import LANGUAGES, language_name, locale, translations

#: Where each layer keeps its templates: web pages in service/, emails in notifications/. The environment
#: reads both folders (one environment for pages and emails) and imports neither package.
ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS: Sequence[Path] = (ROOT / "service" / "templates", ROOT / "notifications" / "templates")


def format_date(value: dt.date | dt.datetime | str | None, language: str, zone: ZoneInfo) -> str:
    """A date as the language writes it in full: "4. januar 2027" / "4 January 2027". A moment is
    shown as the date it is in ``zone`` (the organisation's)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.astimezone(zone).date()
    return dates.format_date(value, "long", locale=locale(language))


def format_datetime(value: dt.datetime | None, language: str, zone: ZoneInfo) -> str:
    """A moment in ``zone``: the date in full and the time to the minute, joined as the language joins
    them ("1. april 2027, 00:30", "31 March 2027, 22:30", nynorsk "1. april 2027 kl. 00:30")."""
    if value is None:
        return ""
    return dates.format_datetime(value, _datetime_pattern(language), tzinfo=zone, locale=locale(language))


@lru_cache
def _datetime_pattern(language: str) -> str:
    # Babel's "long" datetime adds seconds and the zone's name; people book talks to the minute.
    where = locale(language)
    glue: str = where.datetime_formats["long"]
    return glue.replace("{1}", where.date_formats["long"].pattern).replace("{0}", where.time_formats["short"].pattern)


def format_number(value: float, language: str) -> str:
    """A number with the language's grouping and decimal sign: "4 000" (no-break space) / "4,000"."""
    return numbers.format_decimal(value, locale=locale(language))


def format_money(value: Decimal | str | None, language: str) -> str:
    """An amount in NOK as the language writes it: "12 500,50 kr" / "NOK 12,500.50" (Babel)."""
    if value is None or value == "":
        return ""
    text: str = numbers.format_currency(Decimal(value), "NOK", locale=locale(language))
    # CLDR writes the code glued to the number in English ("NOK12,500.50"); a no-break space reads better.
    return text.replace("NOK", "NOK\u00a0", 1) if text.startswith("NOK") and text[3:4].isdigit() else text


def _zone(context: Context) -> ZoneInfo:
    # render() always puts the organisation's zone in the context; a template rendered some other way
    # must say which zone it means rather than get one by default.
    zone = context.get("_zone")
    if not isinstance(zone, ZoneInfo):
        raise LookupError("render the template with the organisation's time zone (_zone)")
    return zone


@pass_context
def _date_filter(context: Context, value: dt.date | dt.datetime | str | None, language: str) -> str:
    return format_date(value, language, _zone(context))


@pass_context
def _datetime_filter(context: Context, value: dt.datetime | None, language: str) -> str:
    return format_datetime(value, language, _zone(context))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in TEMPLATE_DIRS]),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "svg"), default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = _date_filter
    env.filters["datetime"] = _datetime_filter
    env.filters["number"] = format_number
    env.filters["money"] = format_money
    env.globals["languages"] = [(code.value, language_name(code)) for code in LANGUAGES]
    return env


def render(template: str, context: Mapping[str, Any], language: str, zone: ZoneInfo) -> str:
    """Render in the given language, times shown in ``zone`` (the organisation's, from the settings);
    gettext ``_()`` and ``ngettext()`` in the template use that language's catalogue."""
    env = environment()
    tr = translations(language)
    return env.get_template(template).render(
        {**context, "lang": language, "_zone": zone, "_": tr.gettext, "gettext": tr.gettext, "ngettext": tr.ngettext}
    )
