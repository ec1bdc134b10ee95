"""Every text a person reads on the personal-data pages, the follow-up page and their emails has a
bokmål translation; the signed personal links refuse tampering and links of the other kind."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from aarshjul.personal_links import (
    BadPersonalLink,
    ExportClaims,
    FollowUpClaims,
    export_token,
    follow_up_token,
    read_export_token,
    read_follow_up_token,
)
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
SECRET = "unit-test-secret-0123456789-abcdefghijklmnop"


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


def test_export_tokens_round_trip_and_refuse_tampering() -> None:
    claims = ExportClaims(12, dt.datetime(2027, 3, 1, 8, tzinfo=dt.UTC), "0123456789abcdef")
    token = export_token(SECRET, claims)
    assert read_export_token(SECRET, token) == claims
    assert claims.expires_at() == dt.datetime(2027, 3, 8, 8, tzinfo=dt.UTC)
    person, issued, nonce, tag = token.split(".")
    for bad in (
        f"13.{issued}.{nonce}.{tag}",  # another person
        f"{person}.{int(issued) + 86400}.{nonce}.{tag}",  # a later issue date
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        "not-a-token",
    ):
        with pytest.raises(BadPersonalLink):
            read_export_token(SECRET, bad)
    with pytest.raises(BadPersonalLink):
        read_export_token("another-secret-0123456789-abcdefghijklmn", token)


def test_a_follow_up_token_is_not_an_export_token() -> None:
    token = follow_up_token(SECRET, FollowUpClaims(5, 12))
    assert read_follow_up_token(SECRET, token) == FollowUpClaims(5, 12)
    with pytest.raises(BadPersonalLink):
        read_follow_up_token(SECRET, token.replace("5.12.", "5.13.", 1))
    forged = token.split(".")
    with pytest.raises(BadPersonalLink):
        read_export_token(SECRET, f"{forged[0]}.{forged[1]}.0123456789abcdef.{forged[2]}")
