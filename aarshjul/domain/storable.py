"""What may be stored: values that can be shown again, on both databases, forever.

JSON text may hold what no encoder writes back out or a database refuses: a NUL (PostgreSQL refuses
it in text), a lone surrogate (no UTF-8 encoder takes it), a number that is not finite (``NaN``,
``Infinity``: not JSON at all). Deep nesting exhausts the stack of whatever walks it. ``check``
refuses such a value; ``cleaned`` gives the nearest value that is storable (for rows stored before
these rules: ``aarshjul db repair``).
"""

from __future__ import annotations

import math
from typing import Any

#: Deeper than any form or command (a form's list of rows of fields is three levels).
MAX_DEPTH = 32
REPLACEMENT = "\ufffd"


class Unstorable(ValueError):
    """The value could not be stored and shown again; the message says why."""


def unstorable_text(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)


def check(value: Any) -> None:
    """Raises ``Unstorable`` for a NUL or a lone surrogate in any string (or key), a number that is
    not finite, or nesting deeper than ``MAX_DEPTH``. Iterative, so depth costs no stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Unstorable(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            if unstorable_text(item):
                raise Unstorable("text holds a NUL or a lone surrogate")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise Unstorable("a number is not finite")
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, depth + 1))
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def cleaned_text(text: str) -> str:
    return "".join(REPLACEMENT if "\ud800" <= c <= "\udfff" else c for c in text.replace("\x00", ""))


def cleaned(value: Any, depth: int = 0) -> Any:
    """The value with NULs removed, lone surrogates replaced by U+FFFD, numbers that are not finite
    as null, and anything nested deeper than ``MAX_DEPTH`` as null."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, str):
        return cleaned_text(value) if unstorable_text(value) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {cleaned(k, depth + 1): cleaned(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [cleaned(v, depth + 1) for v in value]
    return value
