"""Which messages a language's catalogues still lack: the completeness test's check and
``scripts/i18n-missing``'s list.

The messages a person can read are (a) every message id that Babel extracts from the templates and
the code (``_("…")``, ``gettext(…)``, ``ngettext(…)``, with or without the language as first
argument) and (b) every message id of any language's catalogue, which holds those the code keeps in
tables (form titles, notices, field errors) and that no extractor can see. Each language but English
(the message ids are English) must translate all of them, non-fuzzy, with the message id's
placeholders (``{name}``, ``%(name)s``) and, for plural messages, every plural form of the language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from aarshjul.domain.enums import Language
from aarshjul.presentation.i18n import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
#: Where a person's text is written: web pages and emails (Jinja2), and the code that passes text to gettext.
TEMPLATE_DIRS = ("service/templates", "notifications/templates")
CODE_DIRS = ("aarshjul", "service", "notifications", "forms", "flows", "tasks")
#: ``gettext(language, "…")`` and ``translations(language).gettext("…")`` alike, by number of arguments.
KEYWORDS: dict[str, Any] = {  # Babel's keyword specs (its own type is private)
    "_": None,
    "gettext": {1: (1,), 2: (2,)},
    "ngettext": {3: (1, 2), 4: (2, 3)},
}
_JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
_PLACEHOLDER = re.compile(r"\{\w*\}|%\(\w+\)[sdif]")
#: The catalogue file a message found only in the sources belongs in, by where it was found.
_AREA_OF_FOLDER = (
    ("service/templates/hr/", "hr.po"),
    ("service/routes/hr/", "hr.po"),
    ("service/templates/plan_review/", "plan_review.po"),
    ("service/routes/plan_review", "plan_review.po"),
    ("service/templates/personal", "personal_data.po"),
    ("service/routes/personal", "personal_data.po"),
    ("notifications/", "emails.po"),
    ("forms/", "forms.po"),
    ("service/templates/forms", "forms.po"),
)


#: Catalogues the others follow: a message they hold is a message of the product.
REFERENCE = (Language.NB, Language.EN)
OBSOLETE = "obsolete (in no source and no bokmål catalogue)"


@dataclass(frozen=True)
class SourceMessage:
    id: str
    plural: str | None
    locations: tuple[str, ...]


@dataclass
class Missing:
    """What one message lacks in one language, and where it should go."""

    id: str
    plural: str | None
    file: str  #: the catalogue file (``hr.po``) the message belongs in
    problem: str  #: "untranslated", "fuzzy", "placeholders {x} differ", "plural forms"
    hint: str = ""  #: the bokmål text, to translate from
    locations: tuple[str, ...] = field(default=())

    def as_po(self) -> str:
        """The entry to fill in, in .po form (msgstr left empty), or which entry to remove."""
        if self.problem == OBSOLETE:
            return f"# {OBSOLETE}: remove the entry of msgid {_quoted(self.id)}"
        lines = [f"# {self.problem}"]
        if self.hint:
            lines += [f"# nb: {hint_line}" for hint_line in self.hint.splitlines()]
        lines += [f"#: {where}" for where in self.locations[:3]]
        lines.append(f"msgid {_quoted(self.id)}")
        if self.plural is None:
            lines.append('msgstr ""')
        else:
            lines += [f"msgid_plural {_quoted(self.plural)}", 'msgstr[0] ""', 'msgstr[1] ""']
        return "\n".join(lines)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _source_files() -> Iterator[tuple[str, Path]]:
    for folder in TEMPLATE_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".html", ".txt", ".svg", ".xml"}:
                yield "jinja2", path
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "locale" not in path.parts and path.name != "catalogue_check.py":
                yield "python", path


@cache
def source_messages() -> dict[str, SourceMessage]:
    """Every message id the templates and the code pass to gettext literally, with where."""
    found: dict[str, SourceMessage] = {}
    for method, path in _source_files():
        options = _JINJA_OPTIONS if method == "jinja2" else {}
        extractor = "jinja2.ext:babel_extract" if method == "jinja2" else "python"
        where = str(path.relative_to(ROOT))
        for lineno, message, _comments, _context in extract_from_file(
            extractor, path, keywords=KEYWORDS, options=options
        ):
            singular, plural = (message[0], message[1]) if isinstance(message, tuple) else (message, None)
            if not singular:
                continue
            known = found.get(singular)
            locations = (*(known.locations if known else ()), f"{where}:{lineno}")
            found[singular] = SourceMessage(singular, plural or (known.plural if known else None), locations)
    return found


@cache
def catalogues(language: str, locale_dir: Path = LOCALE_DIR) -> dict[str, Catalog]:
    """A language's catalogues, by file name."""
    folder = locale_dir / language / "LC_MESSAGES"
    result: dict[str, Catalog] = {}
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as fh:
            result[path.name] = read_po(fh, locale=language)
    return result


def _catalogued(language: str, locale_dir: Path) -> dict[str, tuple[str, Message]]:
    return {
        m.id if isinstance(m.id, str) else m.id[0]: (name, m)
        for name, c in catalogues(language, locale_dir).items()
        for m in c
        if m.id
    }


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _problem(message: Message, singular: str, plural: str | None, forms: int) -> str | None:
    strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
    if not strings or not all(s.strip() for s in strings):
        return "untranslated"
    if message.fuzzy:
        return "fuzzy"
    if plural is not None:
        if len(strings) != forms:
            return f"plural forms: {len(strings)} of {forms}"
        wanted = placeholders(singular) | placeholders(plural)
        if not all(placeholders(s) <= wanted for s in strings) or placeholders(strings[-1]) != placeholders(plural):
            return f"placeholders differ from {' '.join(sorted(wanted))}"
        return None
    if placeholders(strings[0]) != placeholders(singular):
        return f"placeholders differ from {' '.join(sorted(placeholders(singular))) or 'none'}"
    return None


def _area(locations: Iterable[str]) -> str:
    for where in locations:
        for prefix, area in _AREA_OF_FOLDER:
            if where.startswith(prefix):
                return area
    return "base.po"


def expected_messages(locale_dir: Path = LOCALE_DIR) -> dict[str, SourceMessage]:
    """What every translated language must say: the sources' messages and the ids of the reference
    catalogues (bokmål, and English where it words a message otherwise than its id)."""
    wanted = dict(source_messages())  # a copy: the sources' list is cached
    for language in REFERENCE:
        for catalogued_id, (name, message) in _catalogued(language.value, locale_dir).items():
            if catalogued_id not in wanted:
                plural = message.id[1] if isinstance(message.id, tuple) else None
                wanted[catalogued_id] = SourceMessage(catalogued_id, plural, (f"{language.value}/{name}",))
            elif isinstance(message.id, tuple) and wanted[catalogued_id].plural is None:
                known = wanted[catalogued_id]
                wanted[catalogued_id] = SourceMessage(known.id, message.id[1], known.locations)
    return wanted


def missing(language: str, locale_dir: Path = LOCALE_DIR) -> list[Missing]:
    """What ``language``'s catalogues lack, by file then message id; English (the ids) lacks nothing."""
    if language == Language.EN:
        return []
    have = _catalogued(language, locale_dir)
    bokmal = _catalogued(Language.NB.value, locale_dir)
    forms = Catalog(locale=language).num_plurals  # Babel's (CLDR's) plural rule for the language
    found: list[Missing] = []
    expected = expected_messages(locale_dir)
    for message_id, wanted in expected.items():
        if message_id in have:
            file, message = have[message_id]
            problem = _problem(message, message_id, wanted.plural, forms)
        else:
            file = bokmal[message_id][0] if message_id in bokmal else _area(wanted.locations)
            problem = "untranslated"
        if problem is not None:
            hint = ""
            if language != Language.NB and message_id in bokmal:
                string = bokmal[message_id][1].string
                hint = string if isinstance(string, str) else " | ".join(string or ())
            found.append(Missing(message_id, wanted.plural, file, problem, hint, wanted.locations))
    if language not in REFERENCE:
        # A message renamed or removed elsewhere leaves its old entry here: it only misleads.
        for message_id in sorted(set(have) - set(expected)):
            file, message = have[message_id]
            plural = message.id[1] if isinstance(message.id, tuple) else None
            found.append(Missing(message_id, plural, file, OBSOLETE))
    return sorted(found, key=lambda m: (m.file, m.id))


def report(languages: Iterable[str], as_po: bool = False, locale_dir: Path = LOCALE_DIR) -> str:
    """The missing messages per language and file, as the test's failure and the script print them."""
    lines: list[str] = []
    for language in languages:
        gaps = missing(language, locale_dir)
        if not gaps:
            continue
        lines.append(f"== {language}: {len(gaps)} missing")
        file = None
        for gap in gaps:
            if gap.file != file:
                file = gap.file
                lines.append(f"-- {_shown(locale_dir)}/{language}/LC_MESSAGES/{file}")
            lines.append(gap.as_po() + "\n" if as_po else f"   [{gap.problem}] {gap.id!r}")
    return "\n".join(lines)


def _shown(folder: Path) -> Path:
    return folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
