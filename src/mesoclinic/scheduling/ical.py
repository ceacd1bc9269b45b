"""iCalendar (RFC 5545) output, written by hand: the subset calendar apps need for a read-only feed.

Pure: takes plain event data, returns the text. RFC 5545 details honoured here: CRLF line endings
(§3.1), lines folded at 75 octets without splitting a UTF-8 character (§3.1), TEXT escaping of
backslash, semicolon, comma and newline (§3.3.11), UTC date-times with a ``Z`` suffix (§3.3.5), and a
stable UID per appointment so that a moved or cancelled appointment updates the same calendar entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

CRLF = "\r\n"
MAX_LINE_OCTETS = 75
PRODID = "-//MesoClinic//MesoClinic calendar feed//EN"


@dataclass(frozen=True)
class IcsEvent:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str = ""
    description: str = ""
    cancelled: bool = False
    #: Bumped when the appointment changes (RFC 5545 §3.8.7.4); here: the number of its events.
    sequence: int = 0
    last_modified: datetime | None = None


def escape_text(value: str) -> str:
    """TEXT value escaping (§3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def format_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where a UTC timestamp is required")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets; continuation lines start with a space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = MAX_LINE_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size = " ", 1  # the leading space counts towards the next line's 75 octets
        current += char
        size += width
    pieces.append(current)
    return CRLF.join(pieces)


def _event_lines(event: IcsEvent, stamp: datetime) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{format_utc(stamp)}",
        f"DTSTART:{format_utc(event.starts_at)}",
        f"DTEND:{format_utc(event.ends_at)}",
        f"SEQUENCE:{event.sequence}",
        f"SUMMARY:{escape_text(event.summary)}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
    ]
    if event.location:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.last_modified is not None:
        lines.append(f"LAST-MODIFIED:{format_utc(event.last_modified)}")
    lines.append("END:VEVENT")
    return lines


def render_calendar(name: str, events: Iterable[IcsEvent], now: datetime) -> str:
    """A complete VCALENDAR; ``now`` is the DTSTAMP (when this feed was generated)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in events:
        lines.extend(_event_lines(event, now))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)


def unfold(text: str) -> list[str]:
    """The inverse of folding (§3.1): content lines, for readers and tests."""
    return text.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")[:-1] if text else []


def unescape_text(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append("\n" if following in ("n", "N") else following)
        else:
            out.append(char)
    return "".join(out)
