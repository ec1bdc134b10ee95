"""Email addresses: the one rule for what the product accepts as an address, and how it is stored.

The rule is used wherever an address enters (the organisation import, a reviewer's invitation, an
HR person added on the command line) and again just before a message is handed to a mail backend.
It is the product's own shape (``EMAIL``) *and* what Python's mail library, which the SMTP backend
builds every message with, parses back unchanged: an address that passes one but not the other
(``rep@[fagforbund.no``) would otherwise fail only when its message is built.
"""

from __future__ import annotations

import re
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage

#: An address people can be mailed at: one @, no spaces or characters mail headers give meaning to,
#: a dot in the domain and a top-level domain of two letters or more.
EMAIL = re.compile(r"^[^@\s<>\"(),;:\[\]\\]+@[^@\s<>\"(),;:\[\]\\]+\.[^@\s<>\"(),;:.\[\]\\]{2,}$")
MAX_LENGTH = 254


def normalise_email(address: str) -> str:
    """As stored and compared: without surrounding spaces, lower-case."""
    return address.strip().lower()


def is_deliverable(address: str) -> bool:
    """Whether ``address`` (as stored) follows the product's rule and the mail library takes it as is."""
    if len(address) > MAX_LENGTH or not EMAIL.match(address):
        return False
    try:
        parsed = Address(addr_spec=address)
        message = EmailMessage()
        message["To"] = address
        rendered = str(message["To"])
    # The library reports a bad address in several ways (a HeaderParseError, a defect raised as a
    # ValueError, and for some inputs an AttributeError from inside its parser).
    except (MessageError, ValueError, IndexError, AttributeError, TypeError):
        return False
    return parsed.addr_spec == address and rendered == address
