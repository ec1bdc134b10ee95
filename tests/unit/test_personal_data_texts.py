"""Every text a person reads on the personal-data pages, the follow-up page and their emails has a
bokmål translation. (The signed links themselves are tested in ``test_signing``.)"""

from __future__ import annotations

import re
from pathlib import Path

from aarshjul.presentation.i18n import translations

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = (
    "service/routes/personal_data.py",
    "service/templates/personal_data/request.html",
    "service/templates/personal_data/download.html",
    "service/templates/personal_data/follow_up.html",
    "notifications/templates/emails/personal_data_link.html",
    "notifications/templates/emails/personal_data_link.txt",
    "notifications/templates/emails/follow_up_recorded.html",
    "notifications/templates/emails/follow_up_recorded.txt",
)
EMAIL_SUBJECTS = (
    "Your data in Årshjul",
    "{leader} has followed up your development plan",
    "Follow-up of the development plan",
)


def _texts() -> set[str]:
    texts = set(EMAIL_SUBJECTS)
    for source in SOURCES:
        joined = re.sub(r'"\s*\n\s*"', "", (ROOT / source).read_text(encoding="utf-8"))
        texts |= set(re.findall(r'_\(\s*"((?:[^"\\]|\\.)+)"\s*\)', joined))
    return texts


def test_every_text_has_a_bokmaal_translation() -> None:
    nb = translations("nb")
    texts = _texts()
    assert len(texts) > 30
    assert sorted(t for t in texts if nb.gettext(t) == t) == []
