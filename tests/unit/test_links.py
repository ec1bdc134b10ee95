from __future__ import annotations

import pytest

from aarshjul.links import BadLink, LinkClaims, make_token, read_token

SECRET = "s" * 20 + "0123456789abcdef"


def test_a_token_round_trips() -> None:
    claims = LinkClaims(task_id=42, assignee_id=7, link_version=3)
    assert read_token(SECRET, make_token(SECRET, claims)) == claims


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("42.", "43.", 1),  # another task
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another signature
        lambda t: t.split(".", 1)[1],  # a part missing
        lambda t: "x" + t,  # not a number
        lambda t: t + "." * 300,  # absurdly long
    ],
)
def test_a_tampered_token_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    token = make_token(SECRET, LinkClaims(42, 7, 3))
    with pytest.raises(BadLink):
        read_token(SECRET, tamper(token))


def test_another_secret_is_refused() -> None:
    token = make_token(SECRET, LinkClaims(42, 7, 3))
    with pytest.raises(BadLink):
        read_token("another-secret-that-is-long-enough-xyz", token)
