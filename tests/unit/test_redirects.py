"""The one safe-redirect rule: a ``next`` or ``back`` value is used only when it is plainly a path on
this site; everything a browser could read as another site (or that it would rewrite) gives the default."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.redirects import is_local_path, path_on_site, safe_next

DEFAULT = "/board"


@pytest.mark.parametrize(
    "target",
    [
        "/board",
        "/board?cycle=3&late=1",
        "/board/units/12?cycle=3#tasks",
        "/plan?notice=invited#reviewers",
        "/hr/cycles",
        "/board?q=100%25",  # a literal percent sign
        "/board?next=//not-a-host-here",  # "//" in the query is not a host
        "/søk?navn=Åse",  # non-ASCII letters are letters
        "/a:b",  # a colon in a path is not a scheme
    ],
)
def test_a_path_on_this_site_is_kept(target: str) -> None:
    assert safe_next(target, DEFAULT) == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/x",
        "http://evil.example",
        "HTTPS://evil.example/",
        "//evil.example/x",  # scheme-relative
        "///evil.example/x",
        "/\\evil.example",  # browsers read "\" as "/"
        "\\\\evil.example",
        "/\\/evil.example",
        "\\/evil.example",
        "/\t/evil.example",  # browsers drop tabs and newlines: "//evil.example"
        "/\n/evil.example",
        "/\r/evil.example",
        "/\x00",
        "/\x7f",
        "/\u2028/evil.example",  # a line separator
        "/\u200b/evil.example",  # a zero-width space (a format character)
        "/%2F/evil.example",  # encoded "/"
        "/%2f%2fevil.example",
        "/%5Cevil.example",  # encoded "\"
        "/%09/evil.example",  # encoded tab
        "/%252F%252Fevil.example",  # encoded twice
        "/%0d%0aSet-Cookie:x=y",  # header splitting
        " /board",  # leading space: browsers strip it, and what follows is judged as given
        "\x01//evil.example",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
        "board",
        "",
        "?next=/board",
        "#/board",
        "/" + "a" * 5000,  # longer than any path of ours
    ],
)
def test_anything_else_gives_the_default(target: str) -> None:
    assert safe_next(target, DEFAULT) == DEFAULT
    assert not is_local_path(target)


@pytest.mark.parametrize("target", [None, 7, b"/board", ["/board"]])
def test_a_value_that_is_not_text_gives_the_default(target: object) -> None:
    assert safe_next(target, DEFAULT) == DEFAULT


def test_the_default_itself_must_be_a_path_on_this_site() -> None:
    with pytest.raises(ValueError):
        safe_next("/board", "https://evil.example/")


def _as_a_browser_reads_it(location: str) -> str:
    """What the WHATWG URL parser does before it looks for a host: tabs and newlines removed, "\\" as "/"."""
    return location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)
PATH_LIKE = st.builds(lambda rest: "/" + rest, ANY_TEXT)
PREFIXES = st.sampled_from(["//", "/\\", "\\\\", "/%2f", "/%5c", "/\t/", "https://", "/%252f", " /"])
HOSTILE = st.builds(lambda prefix, rest: prefix + rest, PREFIXES, ANY_TEXT)


@given(target=st.one_of(ANY_TEXT, PATH_LIKE, HOSTILE))
def test_the_result_is_always_a_path_on_this_site(target: str) -> None:
    result = safe_next(target, DEFAULT)
    assert result in (target, DEFAULT)
    for seen in (result, unquote(result), _as_a_browser_reads_it(unquote(result))):
        assert seen.startswith("/") and not seen.startswith("//")
        parts = urlsplit(seen)
        assert parts.scheme == "" and parts.netloc == ""


@given(target=HOSTILE)
def test_hostile_prefixes_are_always_refused(target: str) -> None:
    assert safe_next(target, DEFAULT) == DEFAULT


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("http://testserver/board/units/3?cycle=2", "/board/units/3?cycle=2"),
        ("HTTP://TESTSERVER/plan", "/plan"),
        ("https://testserver/plan", ""),  # another scheme is another origin
        ("http://testserver:8080/plan", ""),
        ("http://evil.example/board", ""),
        ("//testserver/board", ""),
        ("/board", ""),
        ("", ""),
        ("http://[::1/board", ""),  # not a URL at all
    ],
)
def test_a_referer_counts_only_from_this_site(referer: str, expected: str) -> None:
    assert path_on_site(referer, "http://testserver/") == expected
