"""Mobile numbers: the one rule for what the product accepts as a number to send SMS to, and how it is stored.

Google's libphonenumber (``phonenumbers``) does the reading: a number without a country code is read as
Norwegian, since the product is for Norwegian organisations; one with ``+`` or ``00`` may be from any
country. A number is accepted only when it is a valid number that can receive SMS (a mobile number, or
one of the countries whose numbers do not tell mobile from landline); it is stored as E.164
(``+4791234567``), which is also what SMS providers take.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

#: Where a number written without a country code is read.
HOME_REGION = "NO"
_SMS_CAPABLE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
#: Longer input is no phone number, whatever it holds; it is refused before the parser sees it.
MAX_INPUT_LENGTH = 40


class NotAMobileNumber(ValueError):
    """The text is not a number SMS can be sent to; the message says why, in English."""


def normalise_mobile(text: str) -> str:
    """The number as E.164, or ``NotAMobileNumber``."""
    raw = text.strip()
    if not raw or len(raw) > MAX_INPUT_LENGTH:
        raise NotAMobileNumber(f'"{text}" is not a phone number')
    try:
        number = phonenumbers.parse(raw, HOME_REGION)
    except NumberParseException as exc:
        raise NotAMobileNumber(f'"{text}" is not a phone number') from exc
    if not phonenumbers.is_valid_number(number):
        raise NotAMobileNumber(f'"{text}" is not a valid phone number')
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise NotAMobileNumber(f'"{text}" is not a mobile number (SMS cannot reach it)')
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mobile_or_none(text: str | None) -> str | None:
    """For sources that may hold anything (a directory's phone field): the number, or None."""
    if not text:
        return None
    try:
        return normalise_mobile(text)
    except NotAMobileNumber:
        return None
