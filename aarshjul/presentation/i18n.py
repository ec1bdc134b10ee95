"""Languages, gettext catalogues and locales (Babel) for everything a person reads: pages, forms, the
board and emails.

The languages the product speaks are the domain's ``Language`` enum; everything here (negotiation,
the language links, formatting) follows it. Message ids are English; each area keeps its own catalogue
file under ``aarshjul/presentation/locale/<lang>/LC_MESSAGES/<area>.po`` and they are merged per language
at start-up, so a language is added by adding a member to ``Language`` and a folder of catalogues
(``scripts/i18n-missing`` then lists what the new folder still lacks). ``en`` needs no catalogue
entries unless wording differs from the message id.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel import Locale
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from aarshjul.domain.enums import Language
from aarshjul.domain.errors import InvalidInput

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: Every language the product speaks, in the order the language links show them.
LANGUAGES: tuple[Language, ...] = tuple(Language)
DEFAULT_LANGUAGE = Language.NB

#: Readers whose language has no catalogue of its own read a close one: "no" is Norwegian without
#: saying which written form, and bokmål is the more common (a nynorsk organisation says so in its
#: settings' default language, and its people in the organisation file). A tag whose language is in
#: LANGUAGES is never redirected.
_FALLBACKS = {"no": Language.NB}
_ALIASES = {
    tag: fallback
    for language, fallback in _FALLBACKS.items()
    if language not in LANGUAGES
    for tag in (language, f"{language}-no")
}

#: How a language writes dates and numbers, where its bare locale is not what our readers expect:
#: English as written in Europe (4 January 2027, 24-hour clock), not the United States' default.
_FORMAT_LOCALES = {Language.EN: "en_GB"}


def language_of(tag: str | None) -> Language | None:
    """The language we speak for one language tag (``nb-NO``, ``en_GB``, ``no``), or None."""
    if not tag:
        return None
    wanted = tag.strip().lower().replace("_", "-")
    found = negotiate_locale([wanted], LANGUAGES, sep="-", aliases=_ALIASES)
    return Language(found) if found else None


def _preferences(accept_language: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (Babel negotiates but parses no header).

    Equal weights keep the header's order; ``q=0`` means "not this one".
    """
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((quality, tag))
    return [tag for _quality, tag in sorted(ranked, key=lambda pair: -pair[0])]


def negotiate(query_lang: str | None, accept_language: str | None, default: Language = DEFAULT_LANGUAGE) -> Language:
    """``?lang=`` wins; else the first language we speak in Accept-Language (by weight); else
    ``default`` (the organisation's, from the settings)."""
    for tag in [query_lang, *_preferences(accept_language or "")]:
        language = language_of(tag)
        if language is not None:
            return language
    return default


def supported(language: str | None, default: Language = DEFAULT_LANGUAGE) -> Language:
    """A stored or given language as one we speak (``default`` when it is not)."""
    return language_of(language) or default


@cache
def locale(language: str) -> Locale:
    """The Babel locale that formats dates and numbers for ``language``."""
    code = supported(language)
    return Locale.parse(_FORMAT_LOCALES.get(code, code.value))


@cache
def language_name(language: str) -> str:
    """A language's name in itself ("Norsk bokmål", "Norsk nynorsk", "English"), for the language links."""
    code = supported(language)
    name = Locale.parse(code.value).get_display_name(code.value) or code.value
    return name[:1].upper() + name[1:]


@cache
def translations(language: str) -> NullTranslations:
    code = supported(language).value
    folder = LOCALE_DIR / code / "LC_MESSAGES"
    merged: NullTranslations = NullTranslations()
    first: Translations | None = None
    for po_file in sorted(folder.glob("*.po")):
        with po_file.open("rb") as fh:
            catalog = read_po(fh, locale=code)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded = Translations(buffer)
        if first is None:
            first = loaded
        else:
            first.merge(loaded)
    return first if first is not None else merged


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, count: int) -> str:
    return translations(language).ngettext(singular, plural, count)


def reason_in(language: str, exc: InvalidInput) -> str:
    """Why a use case refused the input, in ``language`` (the English reason when it has no translation)."""
    return gettext(language, exc.template).format(**exc.params)
