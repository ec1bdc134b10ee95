"""Every language's catalogues are complete: each message of the templates and code (Babel's
extraction) and of any catalogue has a non-empty, non-fuzzy translation in bokmål and nynorsk, with
the message id's placeholders and the language's plural forms. A failure lists exactly what is
missing, per language and file, as ``scripts/i18n-missing`` does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from aarshjul.domain.enums import Language
from aarshjul.presentation.catalogue_check import ROOT, missing, report, source_messages
from aarshjul.presentation.i18n import LOCALE_DIR, translations

TRANSLATED = [language for language in Language if language is not Language.EN]


def test_the_extraction_finds_messages_of_templates_code_and_plurals() -> None:
    found = source_messages()
    assert {"Skip to content", "Status board", "Open the task", "Something went wrong"} <= set(found)
    assert found["{days} day late"].plural == "{days} days late"  # ngettext(…) in an email template
    # gettext(language, "…") in code: the message is the second argument.
    assert "The request is too large" in found
    assert any(where.startswith("service/app.py") for where in found["The request is too large"].locations)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: Language) -> None:
    assert missing(language) == [], "\n" + report([language]) + "\n(scripts/i18n-missing --po lists them to fill in)"


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_catalogue_declares_babels_plural_rule_for_its_language(language: Language) -> None:
    files = sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))
    assert [f.name for f in files] == sorted(f.name for f in (LOCALE_DIR / "nb" / "LC_MESSAGES").glob("*.po"))
    nplurals, rule = get_plural(language)
    for path in files:
        with path.open("rb") as fh:
            catalogue = read_po(fh, locale=language)
        assert (catalogue.num_plurals, catalogue.plural_expr) == (nplurals, rule), path.name
        assert catalogue.locale_identifier == language.value, path.name


def test_nynorsk_uses_its_plural_forms() -> None:
    tr = translations("nn")
    reminder = "A friendly reminder: these tasks are due in {days} day or less."
    plural = "A friendly reminder: these tasks are due in {days} days or less."
    assert tr.ngettext(reminder, plural, 1).format(days=1).endswith("om 1 dag eller mindre.")
    assert tr.ngettext(reminder, plural, 2).format(days=2).endswith("om 2 dagar eller mindre.")


def _copy_of_catalogues(tmp_path: Path) -> Path:
    folder = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_check_names_each_kind_of_gap_with_its_file(tmp_path: Path) -> None:
    folder = _copy_of_catalogues(tmp_path)
    nn = folder / "nn" / "LC_MESSAGES"
    _edit(nn / "base.po", 'msgid "Skip to content"\nmsgstr "Hopp til innhaldet"', 'msgid "Skip to content"\nmsgstr ""')
    _edit(nn / "emails.po", 'msgstr "Hei {name},"', 'msgstr "Hei,"')
    _edit(nn / "hr.po", 'msgid "Status board"', '#, fuzzy\nmsgid "Status board"')
    _edit(nn / "emails.po", 'msgstr[1] "{days} dagar forseinka"', 'msgstr[1] ""')
    # A message another branch added to bokmål only, and one in no catalogue yet.
    with (folder / "nb" / "LC_MESSAGES" / "forms.po").open("a", encoding="utf-8") as fh:
        fh.write('\nmsgid "A new message"\nmsgstr "En ny melding"\n')
    gaps = {(gap.file, gap.id): gap.problem for gap in missing("nn", folder)}
    assert gaps == {
        ("base.po", "Skip to content"): "untranslated",
        ("emails.po", "Hello {name},"): "placeholders differ from {name}",
        ("hr.po", "Status board"): "fuzzy",
        ("emails.po", "{days} day late"): "untranslated",
        ("forms.po", "A new message"): "untranslated",
    }
    assert missing("nb", folder) == []
    listed = report(["nn"], as_po=True, locale_dir=folder)
    assert "-- " + str(folder / "nn" / "LC_MESSAGES" / "forms.po") in listed
    assert '# nb: En ny melding\n#: nb/forms.po\nmsgid "A new message"\nmsgstr ""' in listed
    assert 'msgid "{days} day late"\nmsgid_plural "{days} days late"\nmsgstr[0] ""\nmsgstr[1] ""' in listed


def test_a_message_in_the_sources_but_in_no_catalogue_is_missing_everywhere(tmp_path: Path) -> None:
    folder = _copy_of_catalogues(tmp_path)
    for language in TRANSLATED:
        _edit(folder / language / "LC_MESSAGES" / "base.po", 'msgid "Skip to content"', 'msgid "Skip to the content"')
    for language in TRANSLATED:
        (gap,) = [g for g in missing(language, folder) if g.id == "Skip to content"]
        assert (gap.file, gap.problem) == ("base.po", "untranslated")
        assert any(where.startswith("service/templates/") for where in gap.locations)


def test_the_script_lists_nothing_and_succeeds_when_complete() -> None:
    done = subprocess.run([str(ROOT / "scripts" / "i18n-missing")], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "nothing missing in nb, nn, en"), done.stderr
