"""The reviewer's pages speak bokmål: every message id in the plan review templates and route is
translated, and the new ones live in the area's own catalogue, plan_review.po."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from aarshjul.presentation.i18n import LOCALE_DIR, gettext
from service.routes.plan_review import FIELD_ERRORS
from tests.hr_support import ROOT

_MSGID = re.compile(r"""_\(\s*"((?:[^"\\]|\\.)*)"\s*\)""")


def _msgids() -> set[str]:
    found: set[str] = set()
    for path in [*(ROOT / "service" / "templates" / "plan_review").iterdir(), ROOT / "service/routes/plan_review.py"]:
        found |= set(_MSGID.findall(path.read_text(encoding="utf-8")))
    return found | set(FIELD_ERRORS.values())


def test_every_reviewer_message_is_in_plan_review_po() -> None:
    found = _msgids()
    assert {"Draft competence plan", "Send comment", "This link has been withdrawn"} <= found
    with (LOCALE_DIR / "nb" / "LC_MESSAGES" / "plan_review.po").open("rb") as fh:
        catalogue = read_po(fh, locale="nb")
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    assert sorted(found - translated) == []
    assert all(gettext("nb", m) != m for m in found)
