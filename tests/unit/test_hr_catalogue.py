"""HR's pages speak bokmål: HR's own catalogue translates every message id in HR's templates and
routes, so the pages do not lean on other areas' catalogues."""

from __future__ import annotations

from babel.messages.pofile import read_po

from aarshjul.presentation.i18n import LOCALE_DIR
from tests.hr_support import hr_msgids


def test_the_extraction_finds_hr_messages() -> None:
    found = hr_msgids()
    assert {
        "Status board",
        "Competence plan",
        "Wrong email or password, or too many tries: wait 15 minutes and try again.",
        "The cycle is closed.",
    } <= found
    assert "{total} events; newest first." in found and "Only HR may see this page." in found


def test_hr_po_translates_every_hr_message() -> None:
    with (LOCALE_DIR / "nb" / "LC_MESSAGES" / "hr.po").open("rb") as fh:
        catalogue = read_po(fh, locale="nb")
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    assert sorted(hr_msgids() - translated) == []
