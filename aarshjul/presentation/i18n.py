"""Gettext catalogues (Babel) for everything a person reads: pages, forms, the board and emails.

Message ids are English; each area keeps its own catalogue file under
``aarshjul/presentation/locale/<lang>/LC_MESSAGES/<area>.po`` and they are merged per language at start-up, so a
language (nynorsk, say) is added by adding a folder of catalogues. ``en`` needs no catalogue entries
unless wording differs from the message id.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SUPPORTED = ("nb", "en")
DEFAULT = "nb"


@cache
def translations(language: str) -> NullTranslations:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    merged: NullTranslations = NullTranslations()
    first: Translations | None = None
    for po_file in sorted(folder.glob("*.po")):
        with po_file.open("rb") as fh:
            catalog = read_po(fh, locale=language)
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
    return translations(normalise(language)).gettext(message)


def normalise(language: str | None) -> str:
    if not language:
        return DEFAULT
    code = language.strip().lower().replace("_", "-")
    if code in ("nb", "no", "nn", "nb-no", "no-no", "nn-no"):
        # nynorsk readers get bokmål until a nynorsk catalogue exists
        return "nb"
    if code.startswith("en"):
        return "en"
    return DEFAULT


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """``?lang=`` wins; else the first supported language in Accept-Language (by q); else bokmål."""
    if query_lang and query_lang.lower() in SUPPORTED:
        return query_lang.lower()
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for index, part in enumerate(accept_language.split(",")):
            pieces = part.strip().split(";")
            tag = pieces[0].strip().lower()
            quality = 1.0
            for param in pieces[1:]:
                if param.strip().startswith("q="):
                    try:
                        quality = float(param.strip()[2:])
                    except ValueError:
                        quality = 0.0
            if tag:
                ranked.append((-quality, index, tag))
        for _q, _i, tag in sorted(ranked):
            primary = tag.split("-")[0]
            if primary in ("nb", "no", "nn"):
                return "nb"
            if primary == "en":
                return "en"
    return DEFAULT
