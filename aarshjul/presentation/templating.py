"""The one Jinja2 environment for pages and emails: autoescape on, gettext from the catalogues in i18n.py.

Templates only format: they get view models or plain dicts, never ORM objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from aarshjul.presentation.i18n import translations

#: Where each layer keeps its templates: web pages in service/, emails in notifications/. The environment
#: reads both folders (one environment for pages and emails) and imports neither package.
ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS: Sequence[Path] = (ROOT / "service" / "templates", ROOT / "notifications" / "templates")
OSLO = ZoneInfo("Europe/Oslo")

MONTHS_NB = ["januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober",
             "november", "desember"]  # fmt: skip


def format_date(value: dt.date | dt.datetime | str | None, language: str = "nb", zone: ZoneInfo = OSLO) -> str:
    """A date as people write it: "4. januar 2027" / "4 January 2027"."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.astimezone(zone).date()
    if language == "en":
        return f"{value.day} {value.strftime('%B')} {value.year}"
    return f"{value.day}. {MONTHS_NB[value.month - 1]} {value.year}"


def format_datetime(value: dt.datetime | None, language: str = "nb", zone: ZoneInfo = OSLO) -> str:
    if value is None:
        return ""
    local = value.astimezone(zone)
    return f"{format_date(local.date(), language)} {local:%H:%M}"


@pass_context
def _date_filter(context: Context, value: dt.date | dt.datetime | str | None, language: str = "nb") -> str:
    return format_date(value, language, context.get("_zone", OSLO))


@pass_context
def _datetime_filter(context: Context, value: dt.datetime | None, language: str = "nb") -> str:
    return format_datetime(value, language, context.get("_zone", OSLO))


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
    return env


def render(template: str, context: Mapping[str, Any], language: str, zone: ZoneInfo = OSLO) -> str:
    """Render in the given language, times shown in ``zone`` (the organisation's, from the settings);
    gettext ``_()`` in the template uses that language's catalogue."""
    env = environment()
    tr = translations(language)
    return env.get_template(template).render(
        {**context, "lang": language, "_zone": zone, "_": tr.gettext, "gettext": tr.gettext, "ngettext": tr.ngettext}
    )
