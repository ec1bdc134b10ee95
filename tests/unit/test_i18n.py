"""Which language a reader gets: ``?lang=`` first, then the browser's Accept-Language as Babel
negotiates it (``no``, Norwegian without saying which written form, reads bokmål), then the
organisation's default language (bokmål unless the settings say otherwise)."""

from __future__ import annotations

import pytest

from aarshjul.domain.enums import Language
from aarshjul.presentation.i18n import LANGUAGES, language_name, negotiate, supported, translations


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("nb-NO,nb;q=0.9,en;q=0.5", "nb"),
        ("no", "nb"),
        ("no-NO,no;q=0.9", "nb"),
        ("nb-NO", "nb"),
        ("NB-no", "nb"),
        ("nn", "nn"),
        ("nn-NO,en;q=0.5", "nn"),
        ("NN-no", "nn"),
        ("en;q=0.5, nn;q=0.9, nb;q=0.7", "nn"),
        ("no, nn;q=0.8", "nb"),  # "no" first: bokmål
        ("en-US,en;q=0.9", "en"),
        ("en-GB", "en"),
        ("da, en;q=0.3", "en"),
        ("en;q=0.4, nb;q=0.8", "nb"),  # by weight, not by order
        ("nb;q=0, en", "en"),  # q=0: not this one
        ("sv-SE, *", "nb"),
        ("", "nb"),
        (None, "nb"),
    ],
)
def test_accept_language_is_negotiated(accept_language: str | None, expected: str) -> None:
    assert negotiate(None, accept_language) == expected


def test_the_query_wins_over_the_header_when_it_names_a_language_we_speak() -> None:
    assert negotiate("en", "nb-NO,nb") == Language.EN
    assert negotiate("EN", "nb") == Language.EN
    assert negotiate("nb", "en") == Language.NB
    assert negotiate("xx", "en-GB") == Language.EN
    assert negotiate("no", "en") == Language.NB
    assert negotiate("nn", "nb-NO,nb") == Language.NN
    assert negotiate("nn-NO", None) == Language.NN


def test_the_organisations_default_language_decides_where_nothing_else_does() -> None:
    assert negotiate(None, None, Language.NN) == Language.NN
    assert negotiate(None, "sv-SE, da", Language.NN) == Language.NN
    assert negotiate(None, "nb", Language.NN) == Language.NB  # the reader's browser wins
    assert negotiate("en", None, Language.NN) == Language.EN
    assert supported("xx", Language.NN) == Language.NN and supported("nb", Language.NN) == Language.NB


def test_one_list_of_languages() -> None:
    assert tuple(Language) == LANGUAGES and LANGUAGES[0] == Language.NB
    assert [language_name(code) for code in LANGUAGES] == ["Norsk bokmål", "Norsk nynorsk", "English"]
    assert supported("en_GB") == Language.EN and supported("fr") == Language.NB and supported(None) == Language.NB


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nb", ("1 dag forsinket", "2 dager forsinket")),
        ("nn", ("1 dag forseinka", "2 dagar forseinka")),
        ("en", ("1 day late", "2 days late")),
    ],
)
def test_plural_forms_come_from_the_catalogue(language: str, expected: tuple[str, str]) -> None:
    tr = translations(language)
    one, two = (tr.ngettext("{days} day late", "{days} days late", n).format(days=n) for n in (1, 2))
    assert (one, two) == expected
