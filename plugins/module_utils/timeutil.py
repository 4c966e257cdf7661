# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time parsing and formatting. Everything is timezone-aware UTC."""

from __future__ import annotations

import datetime
import re

UTC = datetime.timezone.utc

_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# EM emits 1 to 7 fractional digits ("...06.05Z", "...06.787Z"); fromisoformat on 3.10 wants 3 or 6.
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


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


def parse_em_time(text):
    """Parse a timestamp from an EM response; None for empty values."""
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        return None
    return parse_iso(text)


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


def format_filter_time(value):
    """The form EM's filter fields accept: whole seconds, UTC, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
