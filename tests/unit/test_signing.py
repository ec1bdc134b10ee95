"""The one signing module: every kind of token round-trips, refuses tampering and tokens of every other
kind, expires where it should, and answers any input with ``BadToken`` or ``False``, never a crash."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aarshjul.signing import (
    EXPORT_LINK_LIFETIME,
    HR_SESSION_MAX_AGE,
    MAX_TOKEN_LENGTH,
    BadToken,
    ExpiredToken,
    ExportClaims,
    FollowUpClaims,
    FormPurpose,
    HrSessionClaims,
    ReviewClaims,
    TaskLinkClaims,
    export_token,
    follow_up_token,
    form_csrf,
    form_csrf_ok,
    hr_session_token,
    read_export_token,
    read_follow_up_token,
    read_hr_session_token,
    read_review_token,
    read_task_token,
    review_token,
    task_form_csrf,
    task_form_csrf_ok,
    task_token,
    task_url,
    tokens_equal,
)

SECRET = "s" * 20 + "0123456789abcdef"
OTHER_SECRET = "another-secret-that-is-long-enough-xyz"
NOW = dt.datetime(2027, 3, 1, 8, tzinfo=dt.UTC)
URL_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")

TASK = TaskLinkClaims(task_id=42, assignee_id=7, link_version=3)
FOLLOW_UP = FollowUpClaims(task_id=5, subject_id=12)
EXPORT = ExportClaims(12, NOW, "0123456789abcdef")
REVIEW = ReviewClaims(reviewer_id=5, invited_at=1_803_456_000)
SESSION = HrSessionClaims(person_id=3, session_id="0123456789abcdef", csrf="c" * 32)

#: Each kind: how to make its token and how to read one (with the clock where the kind has expiry).
KINDS: dict[str, tuple[Callable[[str], str], Callable[[str, object], Any]]] = {
    "task link": (lambda s: task_token(s, TASK), read_task_token),
    "follow-up view": (lambda s: follow_up_token(s, FOLLOW_UP), read_follow_up_token),
    "data export": (lambda s: export_token(s, EXPORT), lambda s, t: read_export_token(s, t, NOW)),
    "plan review": (lambda s: review_token(s, REVIEW), read_review_token),
    "HR session": (lambda s: hr_session_token(s, SESSION, NOW), lambda s, t: read_hr_session_token(s, t, NOW)),
}
EXPECTED = {
    "task link": TASK,
    "follow-up view": FOLLOW_UP,
    "data export": EXPORT,
    "plan review": REVIEW,
    "HR session": SESSION,
}


def _resigned_payload(token: str, fields: list[Any]) -> str:
    """Another payload under the token's own signature: what a tamperer can do without the secret."""
    payload = base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{payload}.{token.rsplit('.', 1)[1]}"


# --- each kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_round_trips_url_safe_and_short(kind: str) -> None:
    make, read = KINDS[kind]
    token = make(SECRET)
    assert read(SECRET, token) == EXPECTED[kind]
    assert URL_SAFE.match(token)
    assert len(token) <= 140  # they go in emails; the longest is the session cookie


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("other", KINDS)
def test_each_kind_refuses_a_token_of_every_other_kind(kind: str, other: str) -> None:
    if kind == other:
        return
    make, _ = KINDS[other]
    _, read = KINDS[kind]
    with pytest.raises(BadToken):
        read(SECRET, make(SECRET))


def test_kinds_with_the_same_fields_are_kept_apart_by_their_purpose_alone() -> None:
    # A follow-up link and a review link both carry two numbers: only the salt tells them apart.
    same_numbers = follow_up_token(SECRET, FollowUpClaims(5, 1_803_456_000))
    assert same_numbers.split(".")[0] == review_token(SECRET, ReviewClaims(5, 1_803_456_000)).split(".")[0]
    with pytest.raises(BadToken):
        read_review_token(SECRET, same_numbers)


@pytest.mark.parametrize("kind", KINDS)
def test_another_secret_is_refused(kind: str) -> None:
    make, read = KINDS[kind]
    with pytest.raises(BadToken):
        read(OTHER_SECRET, make(SECRET))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: _resigned_payload(t, [43, 7, 3]),  # another task
        lambda t: _resigned_payload(t, [42, 8, 3]),  # another person
        lambda t: _resigned_payload(t, [42, 7, 4]),  # a later link version
        lambda t: _resigned_payload(t, [42, 7, True]),  # a number that is not one
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another signature
        lambda t: t.split(".", 1)[0],  # the signature missing
        lambda t: t.split(".", 1)[1],  # the payload missing
        lambda t: "x" + t,  # a broken payload
        lambda t: t + "." * 300,  # absurdly long
        lambda t: "42.7.3." + t.rsplit(".", 1)[1],  # the old hand-made format
    ],
)
def test_a_tampered_task_token_is_refused(tamper: Callable[[str], str]) -> None:
    with pytest.raises(BadToken):
        read_task_token(SECRET, tamper(task_token(SECRET, TASK)))


def test_a_task_url_carries_the_token() -> None:
    assert task_url("https://aarshjul.example.no/", SECRET, TASK) == (
        f"https://aarshjul.example.no/t/{task_token(SECRET, TASK)}"
    )


def test_export_tokens_round_trip_refuse_tampering_and_expire_after_seven_days() -> None:
    token = export_token(SECRET, EXPORT)
    assert EXPORT.expires_at() == dt.datetime(2027, 3, 8, 8, tzinfo=dt.UTC) == NOW + EXPORT_LINK_LIFETIME
    assert read_export_token(SECRET, token, EXPORT.expires_at() - dt.timedelta(seconds=1)) == EXPORT
    with pytest.raises(ExpiredToken):
        read_export_token(SECRET, token, EXPORT.expires_at())
    issued = int(NOW.timestamp())
    for bad in (
        _resigned_payload(token, [13, issued, EXPORT.nonce]),  # another person
        _resigned_payload(token, [12, issued + 86400, EXPORT.nonce]),  # a later issue date
        _resigned_payload(token, [12, issued, "fedcba9876543210"]),  # another nonce (a fresh download)
        token[:-1] + ("A" if token[-2:] != "AA" else "B") + token[-1],
        "not-a-token",
    ):
        with pytest.raises(BadToken) as refused:
            read_export_token(SECRET, bad, NOW)
        assert not isinstance(refused.value, ExpiredToken)
    with pytest.raises(BadToken):  # issued after "now": not one we made
        read_export_token(SECRET, token, NOW - dt.timedelta(seconds=1))


def test_a_session_lasts_its_max_age_from_sign_in() -> None:
    token = hr_session_token(SECRET, SESSION, NOW)
    assert read_hr_session_token(SECRET, token, NOW + HR_SESSION_MAX_AGE - dt.timedelta(seconds=1)) == SESSION
    with pytest.raises(ExpiredToken):
        read_hr_session_token(SECRET, token, NOW + HR_SESSION_MAX_AGE)


# --- CSRF -----------------------------------------------------------------------------------------


def test_a_form_csrf_token_is_bound_to_its_purpose_and_its_value() -> None:
    token = form_csrf(SECRET, FormPurpose.NEW_LINK, "cookie-value")
    assert form_csrf_ok(SECRET, FormPurpose.NEW_LINK, "cookie-value", token)
    assert not form_csrf_ok(SECRET, FormPurpose.NEW_LINK, "another-cookie", token)
    assert not form_csrf_ok(OTHER_SECRET, FormPurpose.NEW_LINK, "cookie-value", token)
    assert not form_csrf_ok(SECRET, FormPurpose.NEW_LINK, "", form_csrf(SECRET, FormPurpose.NEW_LINK, ""))
    for other in FormPurpose:
        if other is not FormPurpose.NEW_LINK:
            assert not form_csrf_ok(SECRET, other, "cookie-value", token)
    assert URL_SAFE.match(token) and len(token) == 43


def test_a_task_form_csrf_token_dies_with_its_link_version() -> None:
    token = task_form_csrf(SECRET, TASK)
    assert task_form_csrf_ok(SECRET, TASK, token)
    assert task_form_csrf_ok(SECRET, TaskLinkClaims(42, 8, 3), token)  # bound to the task, not the person
    assert not task_form_csrf_ok(SECRET, TaskLinkClaims(42, 7, 4), token)
    assert not task_form_csrf_ok(SECRET, TaskLinkClaims(43, 7, 3), token)


# --- any input ------------------------------------------------------------------------------------

_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
#: Any text, with lone surrogates often enough to matter (a browser cannot send them; a script can).
ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=600),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=50), _SURROGATE, st.text(max_size=50)),
)
#: Text that gets past the cheap checks and into the library: ASCII in the tokens' own alphabet.
TOKEN_LIKE = st.from_regex(r"\A[A-Za-z0-9_.\-]{0,600}\Z")
GARBAGE = st.one_of(st.text(), ANY_TEXT, TOKEN_LIKE, st.just("x" * 1_000_000), st.just(""), st.none(), st.integers())


@pytest.mark.parametrize("kind", KINDS)
@given(garbage=GARBAGE)
def test_garbage_is_a_bad_token_never_a_crash(kind: str, garbage: object) -> None:
    _, read = KINDS[kind]
    with pytest.raises(BadToken):
        read(SECRET, garbage)


@given(garbage=GARBAGE, bound=ANY_TEXT)
def test_garbage_is_never_a_good_csrf_token(garbage: object, bound: str) -> None:
    assert form_csrf_ok(SECRET, FormPurpose.DATA_REQUEST, bound, garbage) is False
    assert task_form_csrf_ok(SECRET, TASK, garbage) is False
    assert tokens_equal(garbage, "expected-value") is False
    form_csrf(SECRET, FormPurpose.DATA_REQUEST, bound)  # any cookie value can be signed


@given(position=st.integers(min_value=0), replacement=st.characters(exclude_categories=()))
def test_a_changed_character_never_yields_other_claims(position: int, replacement: str) -> None:
    token = task_token(SECRET, TASK)
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1 :]
    try:
        claims = read_task_token(SECRET, changed)
    except BadToken:
        return
    # Base64's last character has spare bits, so a few changes decode to the same bytes: same claims.
    assert claims == TASK


@given(
    ids=st.tuples(*[st.integers(min_value=0, max_value=2**63 - 1)] * 3),
)
def test_any_task_link_round_trips_within_the_length_bound(ids: tuple[int, int, int]) -> None:
    claims = TaskLinkClaims(*ids)
    token = task_token(SECRET, claims)
    assert read_task_token(SECRET, token) == claims
    assert URL_SAFE.match(token) and len(token) < MAX_TOKEN_LENGTH
