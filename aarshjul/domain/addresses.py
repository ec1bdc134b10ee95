"""Email addresses: the one rule for what the product accepts as an address, and how it is stored."""

from __future__ import annotations

import re

#: An address people can be mailed at: one @, no spaces or characters mail headers give meaning to,
#: a dot in the domain and a top-level domain of two letters or more.
EMAIL = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:.]{2,}$")


def normalise_email(address: str) -> str:
    """As stored and compared: without surrounding spaces, lower-case."""
    return address.strip().lower()
