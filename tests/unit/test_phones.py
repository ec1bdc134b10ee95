"""The mobile-number rule: what is read as a number SMS can reach, and how it is stored (E.164)."""

from __future__ import annotations

import pytest

from aarshjul.domain.phones import NotAMobileNumber, mobile_or_none, normalise_mobile


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("91234567", "+4791234567"),
        ("912 34 567", "+4791234567"),
        ("+47 412 34 567", "+4741234567"),
        ("0047 91234567", "+4791234567"),
        ("+1 415 555 0100", "+14155550100"),  # a country whose numbers do not tell mobile from landline
        ("+46 70 123 45 67", "+46701234567"),
    ],
)
def test_numbers_are_read_as_norwegian_unless_they_say_otherwise(written: str, stored: str) -> None:
    assert normalise_mobile(written) == stored


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("22 33 44 55", "not a mobile number"),  # an Oslo landline
        ("0123456789", "not a valid phone number"),
        ("1234", "not a valid phone number"),
        ("ring meg", "not a phone number"),
        ("", "not a phone number"),
        ("9" * 41, "not a phone number"),
    ],
)
def test_what_cannot_receive_sms_is_refused_with_a_reason(written: str, reason: str) -> None:
    with pytest.raises(NotAMobileNumber, match=reason):
        normalise_mobile(written)


def test_a_directory_value_that_is_no_mobile_number_counts_as_none() -> None:
    assert mobile_or_none("912 34 567") == "+4791234567"
    assert mobile_or_none("22 33 44 55") is None
    assert mobile_or_none(None) is None
