"""An iCalendar (RFC 5545) invitation for an agreed talk, attached to the emails of both people.

TEXT values are escaped (backslash, semicolon, comma, newline), parameter values are quoted, and
lines are folded at 75 octets without splitting a UTF-8 character. Times are written in UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PRODUCT_ID = "-//Aarshjul//Aarshjul//NB"


@dataclass(frozen=True)
class CalendarPerson:
    name: str
    email: str


@dataclass(frozen=True)
class CalendarInvitation:
    uid: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    summary: str
    description: str
    location: str
    organizer: CalendarPerson
    attendees: tuple[CalendarPerson, ...]
    stamp: dt.datetime
    sequence: int = 0


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def _param(value: str) -> str:
    """A parameter value: double quotes are not allowed inside, so they are dropped; then quoted."""
    cleaned = "".join(ch for ch in value if ch not in '"\r\n')
    return f'"{cleaned}"'


def _utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("calendar times must be aware datetimes")
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """Fold a content line into chunks of at most 75 octets, continuation lines starting with a space."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    chunks: list[str] = []
    current = ""
    limit = 75
    for ch in line:
        if len((current + ch).encode("utf-8")) > limit:
            chunks.append(current)
            current = ch
            limit = 74  # the leading space of a continuation line counts
        else:
            current += ch
    chunks.append(current)
    return "\r\n ".join(chunks)


def build_invitation(invitation: CalendarInvitation) -> str:
    if invitation.ends_at <= invitation.starts_at:
        raise ValueError("a talk must end after it starts")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{escape_text(invitation.uid)}",
        f"DTSTAMP:{_utc(invitation.stamp)}",
        f"DTSTART:{_utc(invitation.starts_at)}",
        f"DTEND:{_utc(invitation.ends_at)}",
        f"SEQUENCE:{invitation.sequence}",
        f"SUMMARY:{escape_text(invitation.summary)}",
        f"DESCRIPTION:{escape_text(invitation.description)}",
        f"LOCATION:{escape_text(invitation.location)}",
        f"ORGANIZER;CN={_param(invitation.organizer.name)}:mailto:{invitation.organizer.email}",
    ]
    for person in invitation.attendees:
        lines.append(
            f"ATTENDEE;CN={_param(person.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE"
            f":mailto:{person.email}"
        )
    lines += ["STATUS:CONFIRMED", "TRANSP:OPAQUE", "END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
