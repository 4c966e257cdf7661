# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time parsing and formatting. Everything is timezone-aware UTC."""

from __future__ import annotations

import datetime
import re
import sys

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)

_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# EM emits 1 to 7 fractional digits ("...06.05Z", "...06.787Z"); fromisoformat on 3.10 wants 3 or 6.
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_fromiso = datetime.datetime.fromisoformat
# fromisoformat reads a "Z" suffix from Python 3.11 on; before, it needs "+00:00".
_FROMISO_READS_Z = sys.version_info >= (3, 11)


def utcnow():
    return datetime.datetime.now(UTC)


def parse_iso(text):
    """Parse an ISO 8601 date or datetime. Naive values are taken as UTC (EM's filter fields are UTC).

    Returns an aware UTC datetime, or raises ValueError.
    """
    match = _ISO.match(text.strip())
    if not match:
        raise ValueError("not an ISO 8601 date or datetime: %r" % text)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = datetime.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=UTC
        )
        if offset and offset.upper() != "Z":
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            delta = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            value = value - sign * delta
    except OverflowError:
        # 9999-12-31T23:00:00-05:00 lies beyond datetime's range; callers only expect ValueError.
        raise ValueError("date or time out of range: %r" % text)
    return value


def parse_em_time(value):
    """The one parser of timestamps from EM: an aware UTC datetime; None for None or blank text. Raises ValueError.

    Fast path: EM's ``...Z`` form goes straight to the C parser, as this runs for two times of every session
    record (docs/performance.md). What that parser rejects (offsets; on Python 3.10 fractions of other than 3
    or 6 digits) goes through parse_iso. On 3.11 the C parser also reads ISO 8601's basic and week forms, which
    EM never sends; the moment is right either way.
    """
    if value.__class__ is str and value[-1:] == "Z":
        try:
            return _fromiso(value if _FROMISO_READS_Z else value[:-1] + "+00:00")
        except ValueError:
            pass
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return parse_iso(text)


def em_time_text(value, moment):
    """``format_utc(moment)`` for ``moment = parse_em_time(value)``, cut from EM's own text when that is UTC.

    EM writes ``YYYY-MM-DDTHH:MM:SS``, 0 to 7 fraction digits and ``Z``. Cutting is quicker than formatting
    (this runs twice for every session record); the separators are checked by position, the digits were read
    by parse_em_time.
    """
    if (value.__class__ is str and len(value) > 19 and value[-1] == "Z" and value[10] == "T" and value[13] == value[16] == ":"
            and value[4] == value[7] == "-"):
        if not moment.microsecond:
            return value[:19] + "Z"
        if value[19] == "." and value[20:-1].isdigit():
            return value if len(value) == 24 else (value[:-1] + "00")[:23] + "Z"
    return format_utc(moment)


def em_epoch(value):
    """Seconds since the epoch of a timestamp from EM; None when it is missing or not a time."""
    try:
        moment = parse_em_time(value)
    except ValueError:
        return None
    return None if moment is None else moment.timestamp()


def parse_time(value, now=None):
    """Parse a user-supplied point in time.

    Accepts datetimes, ISO 8601 dates/datetimes with any offset, ``now`` and relative
    offsets such as ``-30m``, ``-24h``, ``-7d``, ``+1h``. Raises ValueError.
    """
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError("expected a date/time string, got %s" % type(value).__name__)
    text = value.strip()
    reference = now or utcnow()
    if text.lower() == "now":
        return reference
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        try:
            delta = datetime.timedelta(seconds=float(amount) * _UNIT_SECONDS[unit.lower()])
            return reference - delta if sign == "-" else reference + delta
        except OverflowError:
            raise ValueError("relative time out of range: %r" % text)
    return parse_iso(text)


def parse_duration(value):
    """Seconds from a number or a string such as ``90``, ``90s``, ``15m``, ``9h``, ``2d``. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a boolean")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("not a duration (use seconds or a number with s, m, h, d or w): %r" % value)
        amount, unit = match.groups()
        seconds = float(amount) * _UNIT_SECONDS[(unit or "s").lower()]
    if seconds < 0:
        raise ValueError("a duration cannot be negative: %r" % value)
    return seconds


def format_utc(value):
    """ISO 8601 UTC ending in Z, with milliseconds only when the value has a fraction."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value.microsecond // 1000)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_epoch(seconds):
    """format_utc() of seconds since the epoch; None stays None."""
    if seconds is None:
        return None
    return format_utc(EPOCH + datetime.timedelta(seconds=seconds))


def format_filter_time(value):
    """The form EM's filter fields accept: whole seconds, UTC, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
