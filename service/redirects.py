"""Where the browser may be sent back to after signing in or after an HR form: a path on this site only.

A ``next`` or ``back`` value comes from the client, so it is judged as an attacker would write it.
Browsers forgive a lot in a ``Location``: they treat ``\\`` as ``/``, drop tabs and newlines
anywhere (so ``/\\t/evil.example`` becomes ``//evil.example``), and follow ``//host`` to another
site. Rather than repair such values, anything that is not plainly a path is replaced by the default.
"""

from __future__ import annotations

from typing import TypeGuard
from urllib.parse import unquote, urlsplit

#: Longer than any path of ours with its query; a longer value is not one of ours.
MAX_LENGTH = 2048


def _plain_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return False
    # Control, format, separator (other than space) and unassigned characters: what browsers drop or
    # reinterpret, and what has no business in a path of ours.
    if not text.isprintable():
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def is_local_path(target: object) -> TypeGuard[str]:
    """Whether ``target`` is a path on this site (``/board?cycle=1``), also once percent-decoded."""
    if not isinstance(target, str) or len(target) > MAX_LENGTH:
        return False
    candidate = target
    while True:  # judged encoded and decoded, however many times it was encoded
        if not _plain_path(candidate):
            return False
        decoded = unquote(candidate)
        if decoded == candidate:
            return True
        candidate = decoded


def safe_next(target: object, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (which must be one)."""
    if not is_local_path(default):
        raise ValueError(f"the default target must be a path on this site, not {default!r}")
    return target if is_local_path(target) else default


def path_on_site(url: str, site: str) -> str:
    """The path and query of ``url`` when it points at ``site`` (same scheme, host and port), else "".
    For a ``Referer``, which browsers send as an absolute URL."""
    try:
        given, ours = urlsplit(url), urlsplit(site)
    except ValueError:  # an invalid IPv6 host, for one
        return ""
    if (given.scheme.lower(), given.netloc.lower()) != (ours.scheme.lower(), ours.netloc.lower()) or not given.netloc:
        return ""
    return given.path + (f"?{given.query}" if given.query else "")
