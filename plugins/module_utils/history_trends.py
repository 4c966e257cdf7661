# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trends over stored audits: per VM and per policy, how often and how long it was compliant, its longest
non-compliant streak, and since when its current state holds.

Audited time: audit windows overlap (a 24 h window audited every hour), so each instant of the trend
period counts once, for the latest-ending audit of the target whose window covers it.
"""

from __future__ import annotations

import collections
import datetime
import fnmatch

from .errors import InvalidInputError
from .history_store import STATUS_CODES
from .options import DEFAULT_TREND_DAYS
from .timeutil import format_utc, parse_time, utcnow

DEFAULT_DAYS = DEFAULT_TREND_DAYS
# Status codes as HistoryStore.results_of returns them: indexes in STATUS_CODES.
COMPLIANT, NON_COMPLIANT = STATUS_CODES.index("compliant"), STATUS_CODES.index("non_compliant")


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


def _streak(series, audits, times):
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
            first, last = series[run_start][0], series[position - 1][0] if ongoing else index
            seconds = audits[last]["audited_at"] - audits[first]["audited_at"]
            if best is None or length > best["audits"] or (length == best["audits"] and seconds > best["seconds"]):
                best = {"audits": length, "seconds": round(seconds, 3), "start": times[first], "end": times[last], "ongoing": ongoing}
            run_start = None
    return best


def _current(series, times):
    status = series[-1][1]
    position = len(series) - 1
    while position > 0 and series[position - 1][1] == status:
        position -= 1
    before = series[position - 1] if position > 0 else None
    return {"status": STATUS_CODES[status], "since": times[series[position][0]],
            "previous_status": STATUS_CODES[before[1]] if before else None, "previous_audit_at": times[before[0]] if before else None}


def _trend(entry, series, context):
    audits, times, shares_cache, since, until = context
    indexes = tuple([index for index, _status in series])
    cached = shares_cache.get(indexes)
    if cached is None:
        shares = _attributed(audits, indexes, since, until)
        cached = shares_cache[indexes] = (shares, sum(shares.values()))
    shares, audited = cached
    statuses = [status for _index, status in series]
    counts = [statuses.count(code) for code in range(len(STATUS_CODES))]
    if counts[COMPLIANT] == len(series):
        compliant_time = audited
    else:
        compliant_time = sum([shares[index] for index, status in series if status == COMPLIANT])
    entry.update({
        "audits": len(series), "by_status": {name: counts[code] for code, name in enumerate(STATUS_CODES) if counts[code] or name != "unknown"},
        "compliant_percent": round(100.0 * counts[COMPLIANT] / len(series), 2),
        "audited_seconds": round(audited, 3), "compliant_seconds": round(compliant_time, 3),
        "compliant_time_percent": round(100.0 * compliant_time / audited, 2) if audited else None,
        "longest_non_compliant_streak": _streak(series, audits, times) if counts[NON_COMPLIANT] else None,
        "current": _current(series, times),
        "first_audit": times[series[0][0]], "last_audit": times[series[-1][0]],
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


def compute_trends(audits, rows, targets, since, until, vms=None, policies=None):
    """Trends from audits (HistoryStore.audits_between, oldest first) and their results (HistoryStore.results_of)."""
    position = {audit["seq"]: index for index, audit in enumerate(audits)}
    series = collections.defaultdict(list)
    for seq, target, status in rows:
        series[target].append((position[seq], status))
    want_vm, want_policy = _wanted(vms), _wanted(policies)
    context = (audits, [_iso(audit["audited_at"]) for audit in audits], {}, since, until)
    entries = []
    for target, points in series.items():
        kind, name, uid = targets[target]
        if kind == "vm" and want_vm(name):
            entry = {"vm": name}
        elif kind == "policy" and want_policy(name):
            entry = {"policy": name, "policy_uid": uid}
        else:
            continue
        points.sort()
        entries.append((kind, name, uid or "", _trend(entry, points, context)))
    entries.sort(key=lambda item: item[:3])
    return {"vms": [item[3] for item in entries if item[0] == "vm"], "policies": [item[3] for item in entries if item[0] == "policy"]}


def load_trends(store, days=DEFAULT_DAYS, now=None, scope=None, em_hosts=None, vms=None, policies=None):
    """(trends, audits) of the last ``days`` days from an open HistoryStore; ``scope`` is a scope key (history_store.scope_key)."""
    since, until = trend_period(days, now)
    audits = store.audits_between(since, until, key=scope, em_hosts=em_hosts)
    rows, targets = store.results_of(audits) if audits else ([], {})
    result = {"days": days, "since": _iso(since), "until": _iso(until), "scope_key": scope, "audits": len(audits)}
    result.update(compute_trends(audits, rows, targets, since, until, vms=vms, policies=policies))
    return result, audits


def public_audit(audit):
    """An audit as audits_between returns it, with ISO times, for facts and reports."""
    public = {key: value for key, value in audit.items() if key != "seq"}
    public.update({field: _iso(audit[field]) for field in ("audited_at", "window_start", "window_end")})
    return public
