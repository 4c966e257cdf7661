# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trends over stored audits: per VM and per policy, how often and how long it was compliant, its longest
non-compliant streak, and since when its current state holds.

Audited time: audit windows overlap (a 24 h window audited every hour), so each instant of the trend
period counts once, for the latest-ending audit of the target whose window covers it.
"""

from __future__ import annotations

import datetime
import fnmatch

from .errors import InvalidInputError
from .timeutil import format_utc, parse_time, utcnow

DEFAULT_DAYS = 90
COMPLIANT = "compliant"
NON_COMPLIANT = "non_compliant"
STATUSES = ("compliant", "warning", "non_compliant")


def _iso(epoch):
    return format_utc(datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc))


def _uncovered(covered, start, end):
    """Seconds of [start, end] outside the disjoint sorted intervals ``covered``; then adds [start, end] to them."""
    free = end - start
    merged = []
    for low, high in covered:
        if high < start or low > end:
            merged.append((low, high))
            continue
        free -= max(0.0, min(high, end) - max(low, start))
        start, end = min(low, start), max(high, end)
    merged.append((start, end))
    merged.sort()
    covered[:] = merged
    return max(free, 0.0)


def _attributed(audits, indexes, since, until):
    """{audit index: seconds of the period attributed to it}, among the audits ``indexes`` only."""
    covered = []
    shares = {}
    for index in sorted(indexes, key=lambda i: (audits[i]["window_end"], audits[i]["audited_at"]), reverse=True):
        audit = audits[index]
        start, end = max(audit["window_start"], since), min(audit["window_end"], until)
        shares[index] = _uncovered(covered, start, end) if end > start else 0.0
    return shares


def _streak(series, audits):
    """The longest run of non-compliant audits: {audits, seconds, start, end, ongoing} or None."""
    best = None
    run_start = None
    for position, (index, status) in enumerate(series + [(None, None)]):
        if status == NON_COMPLIANT:
            if run_start is None:
                run_start = position
            continue
        if run_start is not None:
            length = position - run_start
            ongoing = index is None
            end_index = series[position - 1][0] if ongoing else index
            start_at, end_at = audits[series[run_start][0]]["audited_at"], audits[end_index]["audited_at"]
            if best is None or length > best["audits"] or (length == best["audits"] and end_at - start_at > best["seconds"]):
                best = {"audits": length, "seconds": round(end_at - start_at, 3), "start": _iso(start_at), "end": _iso(end_at),
                        "ongoing": ongoing}
            run_start = None
    return best


def _current(series, audits):
    status = series[-1][1]
    position = len(series) - 1
    while position > 0 and series[position - 1][1] == status:
        position -= 1
    before = series[position - 1] if position > 0 else None
    return {"status": status, "since": _iso(audits[series[position][0]]["audited_at"]),
            "previous_status": before[1] if before else None,
            "previous_audit_at": _iso(audits[before[0]]["audited_at"]) if before else None}


def _trend(entry, series, audits, shares_cache, since, until):
    indexes = tuple(index for index, _status in series)
    shares = shares_cache.get(indexes)
    if shares is None:
        shares = shares_cache[indexes] = _attributed(audits, indexes, since, until)
    counts = {status: 0 for status in STATUSES}
    audited = compliant_time = 0.0
    for index, status in series:
        counts[status] = counts.get(status, 0) + 1
        audited += shares[index]
        if status == COMPLIANT:
            compliant_time += shares[index]
    entry.update({
        "audits": len(series), "by_status": counts,
        "compliant_percent": round(100.0 * counts[COMPLIANT] / len(series), 2),
        "audited_seconds": round(audited, 3), "compliant_seconds": round(compliant_time, 3),
        "compliant_time_percent": round(100.0 * compliant_time / audited, 2) if audited else None,
        "longest_non_compliant_streak": _streak(list(series), audits),
        "current": _current(series, audits),
        "first_audit": _iso(audits[series[0][0]]["audited_at"]), "last_audit": _iso(audits[series[-1][0]]["audited_at"]),
    })
    return entry


def _wanted(patterns):
    if not patterns:
        return lambda name: True
    return lambda name: any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def trend_period(days=DEFAULT_DAYS, now=None):
    """(since, until) epoch seconds of the last ``days`` days before ``now`` (ISO, relative, or None for the clock)."""
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
        raise InvalidInputError("days", "%r is not a positive number of days." % (days,), "For example 90.")
    try:
        until = parse_time(now) if now else utcnow()
    except ValueError as exc:
        raise InvalidInputError("now", str(exc), "Use an ISO 8601 time, now, or a relative time such as -1d.")
    return (until - datetime.timedelta(days=days)).timestamp(), until.timestamp()


def compute_trends(audits, rows, since, until, vms=None, policies=None):
    """Trends from audits (HistoryStore.audits_between, oldest first) and their result rows (HistoryStore.results_of)."""
    position = {audit["id"]: index for index, audit in enumerate(audits)}
    want_vm, want_policy = _wanted(vms), _wanted(policies)
    series = {}
    for audit_id, kind, name, uid, status, _policy in rows:
        if not (want_vm(name) if kind == "vm" else want_policy(name)):
            continue
        key = (kind, uid if kind == "policy" and uid else name)
        target = series.get(key)
        if target is None:
            target = series[key] = ({"vm": name} if kind == "vm" else {"policy": name, "policy_uid": uid}, [])
        target[1].append((position[audit_id], status))
    shares_cache = {}
    result = {"vms": [], "policies": []}
    for key in sorted(series):
        entry, points = series[key]
        points.sort()
        result["vms" if key[0] == "vm" else "policies"].append(_trend(entry, points, audits, shares_cache, since, until))
    return result


def load_trends(store, days=DEFAULT_DAYS, now=None, scope=None, em_hosts=None, vms=None, policies=None):
    """(trends, audits) of the last ``days`` days from an open HistoryStore; ``scope`` is a scope key (history_store.scope_key)."""
    since, until = trend_period(days, now)
    audits = store.audits_between(since, until, key=scope, em_hosts=em_hosts)
    rows = store.results_of(audits) if audits else []
    result = {"days": days, "since": _iso(since), "until": _iso(until), "scope_key": scope, "audits": len(audits)}
    result.update(compute_trends(audits, rows, since, until, vms=vms, policies=policies))
    return result, audits


def public_audit(audit):
    """An audit as audits_between returns it, with ISO times, for facts and reports."""
    return dict(audit, **{field: _iso(audit[field]) for field in ("audited_at", "window_start", "window_end")})
