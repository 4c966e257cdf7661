# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CDP replication compliance engine.

Streams normalised CDP task-session records per VM (``ComplianceEvaluator.add_session``)
and builds a plain-typed report (``finish``). ``evaluate`` is the one-shot form and
``combine_reports`` merges per-EM reports. Rules and report format are documented in
docs/compliance-rules.md and docs/report-format.md.

Per VM only compact state is kept: merged coverage intervals, a few aggregates and the
sessions that carry evidence (failed, warning, still running). Raw records are never held.
"""

from __future__ import annotations

import bisect
import datetime
import fnmatch
import operator
import re
from collections.abc import Mapping

from .compliance_report import (
    COMPLIANT,
    INCOMPLETE,
    INFO,
    NON_COMPLIANT,
    SCHEMA_VERSION,
    VIOLATION,
    VM_RULES,
    WARNING,
    ComplianceConfigError,
    human_duration,
    plain,
    worse,
)
from .timeutil import UTC, format_utc, parse_duration, parse_iso, parse_time, utcnow

REPORT_KIND = "cdp_compliance_report"
EVIDENCE_LIMIT = 20
TIMELINE_LIMIT = 100
# Gaps up to this long count as continuous: CDP task sessions hand over within a second.
MAX_MERGE_TOLERANCE = 5.0

SEVERITIES = (VIOLATION, WARNING, INFO)

# Rules evaluated per VM (VM_RULES) may be overridden per VM, policy and backup server.
POLICY_RULES = ("policy_config",)
GLOBAL_RULES = ("data_sufficiency",)
RULE_IDS = VM_RULES + POLICY_RULES + GLOBAL_RULES

# rule -> key -> (kind, default). kind: bool, duration, optional_duration, severity, int.
RULE_SCHEMA = {
    "data_sufficiency": {"enabled": ("bool", True), "history_days": ("int", 30)},
    "scope": {"enabled": ("bool", True), "from_policies": ("bool", False)},
    "coverage": {"enabled": ("bool", True), "max_gap": ("optional_duration", None), "fallback_max_gap": ("duration", 900.0)},
    "rpo": {
        "enabled": ("bool", True),
        "lag_tolerance": ("duration", 900.0),
        "target": ("optional_duration", None),
        "minor_severity": ("severity", WARNING),
        "major_severity": ("severity", VIOLATION),
        "critical_severity": ("severity", VIOLATION),
    },
    "failures": {"enabled": ("bool", True), "failed_severity": ("severity", VIOLATION), "warning_severity": ("severity", WARNING)},
    "stuck": {"enabled": ("bool", True), "max_task_duration": ("duration", 9 * 3600.0), "max_pending": ("duration", 1800.0)},
    "freshness": {"enabled": ("bool", True), "max_staleness": ("duration", 3600.0)},
    "policy_config": {
        "enabled": ("bool", True),
        "rpo_reporting": ("bool", True),
        "disabled_policies": ("bool", True),
        "failed_sessions": ("bool", True),
    },
}
OVERRIDE_LEVELS = {"vms": VM_RULES[1:], "policies": VM_RULES[1:] + POLICY_RULES, "backup_servers": VM_RULES[1:] + POLICY_RULES}

_STATE_RUNNING = "InProgress"
_STATE_PENDING = "Pending"
_STATE_COMPLETED = "Completed"
_STATE_ALIASES = {"inprogress": _STATE_RUNNING, "pending": _STATE_PENDING, "completed": _STATE_COMPLETED}
_GLOB_CHARS = re.compile(r"[*?\[]")
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
_fromiso = datetime.datetime.fromisoformat
_interval_start = operator.itemgetter(0)
_interval_end = operator.itemgetter(1)


# ----------------------------------------------------------------------------- small helpers

def _epoch(text):
    """Seconds since the epoch from an EM UTC timestamp; None when missing or unparsable."""
    if not text:
        return None
    try:
        if text[-1] == "Z":
            return _fromiso(text[:-1] + "+00:00").timestamp()
        return parse_iso(text).timestamp()
    except (ValueError, TypeError, IndexError):
        try:
            return parse_iso(str(text)).timestamp()
        except (ValueError, TypeError):
            return None


def _iso(seconds):
    if seconds is None:
        return None
    return format_utc(_EPOCH + datetime.timedelta(seconds=seconds))


def _norm_key(key):
    return _NON_ALNUM.sub("", str(key).lower())


def _get(record, *names):
    """Value of the first key matching one of ``names``, ignoring case, ``_`` and ``-``."""
    if not isinstance(record, Mapping):
        return None
    for name in names:
        if name in record:
            return record[name]
    wanted = [_norm_key(name) for name in names]
    normalised = {_norm_key(key): value for key, value in record.items()}
    for name in wanted:
        if name in normalised:
            return normalised[name]
    return None


def _as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "on", "1", "enabled"):
            return True
        if text in ("false", "no", "off", "0", "disabled"):
            return False
    return None


def _as_number(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _text(value):
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _is_glob(pattern):
    return bool(_GLOB_CHARS.search(pattern))


def _matches(pattern, name):
    if name is None:
        return False
    if not _is_glob(pattern):
        return pattern.casefold() == name.casefold()
    return fnmatch.fnmatchcase(name.casefold(), pattern.casefold())


def _capped(items, limit=EVIDENCE_LIMIT):
    """First ``limit`` items and how many were cut."""
    items = list(items)
    return items[:limit], max(0, len(items) - limit)


def _finding(rule, code, severity, message, evidence=None):
    return {"rule": rule, "code": code, "severity": severity, "message": message, "evidence": evidence or {}, "waived": False}


def _status_of(findings):
    status = COMPLIANT
    for finding in findings:
        if finding["waived"]:
            continue
        if finding["severity"] == VIOLATION:
            return NON_COMPLIANT
        if finding["severity"] == WARNING:
            status = WARNING
    return status


# ----------------------------------------------------------------------------- configuration

def _check_value(option, kind, value):
    if kind == "bool":
        if not isinstance(value, bool):
            raise ComplianceConfigError(option, "expected true or false, got %r" % (value,))
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ComplianceConfigError(option, "expected a positive integer, got %r" % (value,))
        return value
    if kind == "severity":
        if value not in SEVERITIES:
            raise ComplianceConfigError(option, "expected one of %s, got %r" % (", ".join(SEVERITIES), value))
        return value
    if kind == "optional_duration" and value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ComplianceConfigError(option, str(exc), "Use seconds or a string such as 90s, 15m, 9h or 2d.") from None


def _check_rule_settings(option, rule, settings):
    if not isinstance(settings, Mapping):
        raise ComplianceConfigError(option, "expected a dictionary of settings, got %s" % type(settings).__name__)
    schema = RULE_SCHEMA[rule]
    checked = {}
    for key, value in settings.items():
        if key not in schema:
            raise ComplianceConfigError("%s.%s" % (option, key), "unknown setting; known: %s" % ", ".join(sorted(schema)))
        checked[key] = _check_value("%s.%s" % (option, key), schema[key][0], value)
    return checked


def normalize_rules(rules=None):
    """Validated rules: ``{"rules": {rule: settings}, "overrides": {level: [(pattern, {rule: settings})]}}``."""
    if rules is None:
        rules = {}
    if not isinstance(rules, Mapping):
        raise ComplianceConfigError("rules", "expected a dictionary, got %s" % type(rules).__name__)
    effective = {rule: {key: spec[1] for key, spec in schema.items()} for rule, schema in RULE_SCHEMA.items()}
    overrides = {level: [] for level in OVERRIDE_LEVELS}
    for rule, settings in rules.items():
        if rule == "overrides":
            overrides = _check_overrides(settings)
            continue
        if rule not in RULE_SCHEMA:
            raise ComplianceConfigError("rules.%s" % rule, "unknown rule; known rules: %s, overrides" % ", ".join(RULE_IDS))
        if settings is None:
            continue
        if isinstance(settings, bool):
            settings = {"enabled": settings}
        effective[rule].update(_check_rule_settings("rules.%s" % rule, rule, settings))
    return {"rules": effective, "overrides": overrides}


def _check_overrides(value):
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ComplianceConfigError("rules.overrides", "expected a dictionary with keys %s" % ", ".join(OVERRIDE_LEVELS))
    result = {level: [] for level in OVERRIDE_LEVELS}
    for level, entries in value.items():
        option = "rules.overrides.%s" % level
        if level not in OVERRIDE_LEVELS:
            raise ComplianceConfigError(option, "unknown override level; known: %s" % ", ".join(OVERRIDE_LEVELS))
        if entries is None:
            continue
        if not isinstance(entries, Mapping):
            raise ComplianceConfigError(option, "expected a dictionary of name or glob -> rule settings")
        for pattern, rule_settings in entries.items():
            entry_option = "%s.%s" % (option, pattern)
            if not isinstance(rule_settings, Mapping):
                raise ComplianceConfigError(entry_option, "expected a dictionary of rule -> settings")
            checked = {}
            for rule, settings in rule_settings.items():
                if rule not in OVERRIDE_LEVELS[level]:
                    raise ComplianceConfigError(
                        "%s.%s" % (entry_option, rule), "rule cannot be overridden here; allowed: %s" % ", ".join(OVERRIDE_LEVELS[level])
                    )
                if isinstance(settings, bool):
                    settings = {"enabled": settings}
                checked[rule] = _check_rule_settings("%s.%s" % (entry_option, rule), rule, settings)
            result[level].append((str(pattern), checked))
        # Least specific first so that more specific patterns (and exact names, last) win.
        result[level].sort(key=lambda item: (not _is_glob(item[0]), len(_GLOB_CHARS.sub("", item[0]))))
    return result


def _parse_expiry(option, value):
    """(end of validity as epoch seconds, text). A date means valid through that whole UTC day."""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp(), format_utc(moment)
    if isinstance(value, datetime.date):
        day_end = datetime.datetime(value.year, value.month, value.day, tzinfo=UTC) + datetime.timedelta(days=1)
        return day_end.timestamp(), value.isoformat()
    if not isinstance(value, str) or not value.strip():
        raise ComplianceConfigError(option, "expected a date (YYYY-MM-DD) or an ISO 8601 date and time, got %r" % (value,))
    text = value.strip()
    try:
        moment = parse_iso(text)
    except ValueError:
        raise ComplianceConfigError(option, "expected a date (YYYY-MM-DD) or an ISO 8601 date and time, got %r" % (value,)) from None
    if len(text) == 10:
        return (moment + datetime.timedelta(days=1)).timestamp(), text
    return moment.timestamp(), format_utc(moment)


def normalize_waivers(waivers):
    """Validated waivers: list of dicts with vm or policy, reason, expires (text), expires_at, rules."""
    if waivers is None:
        return []
    if isinstance(waivers, (str, Mapping)) or not hasattr(waivers, "__iter__"):
        raise ComplianceConfigError("waivers", "expected a list of waivers")
    result = []
    for index, waiver in enumerate(waivers):
        option = "waivers[%d]" % index
        if not isinstance(waiver, Mapping):
            raise ComplianceConfigError(option, "expected a dictionary with vm, reason and expires")
        unknown = set(waiver) - {"vm", "policy", "reason", "expires", "rules"}
        if unknown:
            raise ComplianceConfigError("%s.%s" % (option, sorted(unknown)[0]), "unknown key; known: vm, policy, reason, expires, rules")
        targets = [key for key in ("vm", "policy") if waiver.get(key)]
        if len(targets) != 1:
            raise ComplianceConfigError("%s.vm" % option, "a waiver needs exactly one of vm or policy (a name or glob)")
        reason = waiver.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ComplianceConfigError("%s.reason" % option, "a waiver needs a non-empty reason")
        if "expires" not in waiver:
            raise ComplianceConfigError("%s.expires" % option, "a waiver needs an expiry date")
        expires_at, expires_text = _parse_expiry("%s.expires" % option, waiver["expires"])
        rules = waiver.get("rules")
        if rules is not None:
            if isinstance(rules, str) or not isinstance(rules, (list, tuple)):
                raise ComplianceConfigError("%s.rules" % option, "expected a list of rule ids")
            for rule in rules:
                if rule not in RULE_IDS:
                    raise ComplianceConfigError("%s.rules" % option, "unknown rule %r; known: %s" % (rule, ", ".join(RULE_IDS)))
            rules = sorted(set(rules))
        result.append({
            "target": targets[0], "pattern": str(waiver[targets[0]]), "reason": reason.strip(),
            "expires": expires_text, "expires_at": expires_at, "rules": rules,
        })
    return result


def normalize_expected(expected_vms):
    if expected_vms is None:
        return []
    if isinstance(expected_vms, str):
        expected_vms = [expected_vms]
    if isinstance(expected_vms, Mapping) or not hasattr(expected_vms, "__iter__"):
        raise ComplianceConfigError("expected_vms", "expected a list of VM names or glob patterns")
    result = []
    for index, name in enumerate(expected_vms):
        if not isinstance(name, str) or not name.strip():
            raise ComplianceConfigError("expected_vms[%d]" % index, "expected a non-empty VM name or glob pattern, got %r" % (name,))
        if name not in result:
            result.append(name)
    return result


def resolve_window(window=None, now=None):
    """(now, start, end) as aware UTC datetimes. ``window``: None (last 24 h), a duration,
    a relative start such as ``-24h``, a ``{start, end}`` dict or a ``[start, end]`` pair."""
    try:
        current = parse_time(now) if now is not None else utcnow()
    except ValueError as exc:
        raise ComplianceConfigError("now", str(exc)) from None
    start_value, end_value = "-24h", "now"
    if isinstance(window, Mapping):
        unknown = set(window) - {"start", "end"}
        if unknown:
            raise ComplianceConfigError("window.%s" % sorted(unknown)[0], "unknown key; use start and end")
        start_value, end_value = window.get("start", start_value), window.get("end", end_value)
    elif isinstance(window, (list, tuple)):
        if len(window) != 2:
            raise ComplianceConfigError("window", "expected [start, end]")
        start_value, end_value = window
    elif isinstance(window, (int, float)) and not isinstance(window, bool):
        start_value = current - datetime.timedelta(seconds=parse_duration(window))
    elif isinstance(window, str):
        text = window.strip()
        if text[:1] in "+-" or text.lower() == "now":
            start_value = text
        else:
            try:
                start_value = current - datetime.timedelta(seconds=parse_duration(text))
            except ValueError:
                start_value = text
    elif window is not None:
        raise ComplianceConfigError("window", "expected a duration, a start time, {start, end} or [start, end]")
    try:
        start = parse_time(start_value, now=current)
    except ValueError as exc:
        raise ComplianceConfigError("window.start", str(exc)) from None
    try:
        end = parse_time(end_value if end_value is not None else "now", now=current)
    except ValueError as exc:
        raise ComplianceConfigError("window.end", str(exc)) from None
    if end <= start:
        raise ComplianceConfigError("window", "the window must end after it starts (%s .. %s)" % (format_utc(start), format_utc(end)))
    return current, start, end


# ----------------------------------------------------------------------------- policies (tolerant)

_SECONDS_SUFFIXES = ("seconds", "second", "secs", "sec", "inseconds", "s")
_MINUTES_SUFFIXES = ("minutes", "minute", "mins", "min", "inminutes", "m")
_HOURS_SUFFIXES = ("hours", "hour", "hrs", "inhours", "h")
_UNIT_FACTORS = {"second": 1.0, "seconds": 1.0, "sec": 1.0, "s": 1.0, "minute": 60.0, "minutes": 60.0, "min": 60.0, "m": 60.0,
                 "hour": 3600.0, "hours": 3600.0, "h": 3600.0, "day": 86400.0, "days": 86400.0, "d": 86400.0}
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")
_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def _duration_text_seconds(text):
    text = text.strip()
    match = _TIMESPAN.match(text)
    if match:
        days, hours, minutes, seconds = match.groups()
        return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    match = _ISO_DURATION.match(text)
    if match and any(match.groups()):
        days, hours, minutes, seconds = match.groups()
        return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    try:
        return parse_duration(text)
    except ValueError:
        return None


def _unit_factor(value):
    return _UNIT_FACTORS.get(_norm_key(value)) if isinstance(value, str) else None


def _duration_parts(node, prefix):
    """Sum of ``<prefix>seconds``/``<prefix>minutes``/``<prefix>hours``/``<prefix>`` (+ unit) keys of a dict."""
    total = None
    value_part = None
    factor = None
    for key, value in node.items():
        norm = _norm_key(key)
        if not norm.startswith(prefix):
            continue
        suffix = norm[len(prefix):]
        if suffix in _SECONDS_SUFFIXES or suffix in _MINUTES_SUFFIXES or suffix in _HOURS_SUFFIXES:
            number = _as_number(value)
            if number is None:
                continue
            scale = 1.0 if suffix in _SECONDS_SUFFIXES else 60.0 if suffix in _MINUTES_SUFFIXES else 3600.0
            total = (total or 0.0) + number * scale
        elif suffix in ("unit", "units", "type", "timeunit"):
            factor = _unit_factor(value)
        elif suffix in ("", "value", "period", "interval"):
            if isinstance(value, Mapping):
                value_part = _duration_parts(value, "")
            elif isinstance(value, str) and _as_number(value) is None:
                value_part = _duration_text_seconds(value)
            else:
                value_part = _as_number(value)
                if value_part is not None:
                    value_part = ("raw", value_part)
    if isinstance(value_part, tuple):
        value_part = value_part[1] * (factor or 1.0)
    if value_part is not None:
        total = (total or 0.0) + value_part
    return total


def _walk_dicts(node, skip=(), depth=0):
    """Yield every dict under node, depth-first, skipping links and subtrees whose key contains a word in ``skip``."""
    if depth > 10:
        return
    if isinstance(node, Mapping):
        yield node
        for key, value in node.items():
            norm = _norm_key(key)
            if norm == "links" or any(word in norm for word in skip):
                continue
            if isinstance(value, (Mapping, list, tuple)):
                yield from _walk_dicts(value, skip, depth + 1)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _walk_dicts(value, skip, depth + 1)


def policy_rpo_seconds(policy):
    """The policy's recovery point objective in seconds, or None when no known field carries it."""
    for node in _walk_dicts(policy, skip=("reporting", "markas", "threshold")):
        for prefix in ("recoverypointobjective", "rpo"):
            if any(_norm_key(key).startswith(prefix) and "reporting" not in _norm_key(key) and "threshold" not in _norm_key(key)
                   for key in node):
                seconds = _duration_parts(
                    {key: value for key, value in node.items()
                     if "reporting" not in _norm_key(key) and "threshold" not in _norm_key(key)}, prefix)
                if seconds is not None:
                    return seconds
    return None


def policy_rpo_reporting(policy):
    """{"warning": {"enabled", "threshold_seconds"}, "error": {...}}; values None when not found."""
    result = {"warning": {"enabled": None, "threshold_seconds": None}, "error": {"enabled": None, "threshold_seconds": None}}
    for node in _walk_dicts(policy):
        for key, value in node.items():
            norm = _norm_key(key)
            if "warning" in norm:
                level = "warning"
            elif "fail" in norm or "error" in norm:
                level = "error"
            else:
                continue
            if not (norm.startswith("markas") or "rpo" in norm or "report" in norm):
                continue
            if isinstance(value, Mapping):
                enabled = _as_bool(_get(value, "enabled", "is_enabled", "enable"))
                threshold = None
                for prefix in ("rpothreshold", "threshold"):
                    threshold = _duration_parts(value, prefix)
                    if threshold is not None:
                        break
                if enabled is not None:
                    result[level]["enabled"] = enabled
                if threshold is not None:
                    result[level]["threshold_seconds"] = threshold
            elif _as_bool(value) is not None and result[level]["enabled"] is None:
                result[level]["enabled"] = _as_bool(value)
    return result


def policy_enabled(policy):
    enabled = _as_bool(_get(policy, "is_enabled", "enabled"))
    if enabled is not None:
        return enabled
    disabled = _as_bool(_get(policy, "is_disabled", "disabled"))
    if disabled is not None:
        return not disabled
    return _as_bool(_get(policy, "schedule_enabled"))


def backup_server_from_links(record):
    """(uid, name) of the Up BackupServerReference link, else of backup_server_uid/name keys."""
    links = _get(record, "links")
    if isinstance(links, Mapping):
        links = _get(links, "link") or [links]
    for link in links if isinstance(links, (list, tuple)) else ():
        if not isinstance(link, Mapping):
            continue
        if str(_get(link, "type") or "").lower() != "backupserverreference":
            continue
        if str(_get(link, "rel") or "up").lower() != "up":
            continue
        href = str(_get(link, "href") or "")
        guid = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        uid = "urn:veeam:BackupServer:%s" % guid if guid else None
        return uid, _text(_get(link, "name"))
    return _text(_get(record, "backup_server_uid")), _text(_get(record, "backup_server_name"))


def policy_vm_names(policy):
    """VM names listed in the policy's includes (any nested key containing ``include``)."""
    names = []
    info = _get(policy, "cdp_policy_info")
    for root in (info, policy) if info is not None else (policy,):
        for node in _walk_dicts(root):
            for key, value in node.items():
                if "include" not in _norm_key(key):
                    continue
                for item in _walk_dicts(value):
                    name = _get(item, "vm_display_name", "display_name", "vm_name", "object_name", "name")
                    if isinstance(name, str) and name and name not in names:
                        names.append(name)
                if isinstance(value, (list, tuple)):
                    names.extend(item for item in value if isinstance(item, str) and item not in names)
        if names:
            break
    return names


def describe_policy(policy):
    """Plain summary of a generic CDP policy record."""
    uid, name = backup_server_from_links(policy)
    return {
        "uid": _text(_get(policy, "uid", "id")),
        "name": _text(_get(policy, "name")),
        "platform": _text(_get(policy, "platform")),
        "backup_server": name,
        "backup_server_uid": uid,
        "enabled": policy_enabled(policy),
        "rpo_seconds": policy_rpo_seconds(policy),
        "rpo_reporting": policy_rpo_reporting(policy),
        "vms_included": policy_vm_names(policy),
        "known": True,
    }


def describe_policy_session(record):
    return {
        "uid": _text(_get(record, "uid", "id")),
        "name": _text(_get(record, "name")),
        "policy_uid": _text(_get(record, "policy_uid")),
        "policy_name": _text(_get(record, "policy_name")),
        "state": _text(_get(record, "state")),
        "result": _text(_get(record, "result")),
        "creation_time_utc": _text(_get(record, "creation_time_utc", "creation_time")),
        "end_time_utc": _text(_get(record, "end_time_utc", "end_time")),
        "failure_message": _text(_get(record, "failure_message")),
    }


# ----------------------------------------------------------------------------- per-VM state

class _VmState:
    """Compact per-VM accumulator. Intervals are [start, end, first_uid, last_uid] lists, disjoint and sorted."""

    __slots__ = ("intervals", "running", "flagged", "sessions", "in_window", "invalid", "latest_start", "policy_session_uid",
                 "policy_session_name", "server_uid", "server_name", "last_end", "last_end_uid", "before_end", "before_uid",
                 "running_at_end")

    def __init__(self):
        self.intervals = []
        self.running = []   # (start, uid, state, creation text) of sessions without an end time
        self.flagged = []   # (result, uid, creation text, end text, reason) of completed Failed/Warning sessions
        self.sessions = 0
        self.in_window = 0
        self.invalid = 0
        self.latest_start = float("-inf")
        self.policy_session_uid = None
        self.policy_session_name = None
        self.server_uid = None
        self.server_name = None
        self.last_end = None
        self.last_end_uid = None
        self.before_end = None
        self.before_uid = None
        self.running_at_end = False


def _insert_interval(intervals, start, end, first_uid, last_uid, tolerance):
    if not intervals:
        intervals.append([start, end, first_uid, last_uid])
        return
    last = intervals[-1]
    if start >= last[0]:
        if start <= last[1] + tolerance:
            if end > last[1]:
                last[1] = end
                last[3] = last_uid
        else:
            intervals.append([start, end, first_uid, last_uid])
        return
    # Out of order: merge with every interval within tolerance of [start, end]; both ends are sorted.
    low = bisect.bisect_left(intervals, start - tolerance, key=_interval_end)
    high = bisect.bisect_right(intervals, end + tolerance, key=_interval_start)
    merged = [start, end, first_uid, last_uid]
    if low < high:
        if intervals[low][0] < start:
            merged[0], merged[2] = intervals[low][0], intervals[low][2]
        if intervals[high - 1][1] > end:
            merged[1], merged[3] = intervals[high - 1][1], intervals[high - 1][3]
    intervals[low:high] = [merged]


# ----------------------------------------------------------------------------- evaluator

class ComplianceEvaluator:
    """Streaming evaluator: ``add_session`` per task-session record, then ``finish()`` for the report."""

    def __init__(self, rules=None, now=None, window=None, expected_vms=None, waivers=None, policies=None,
                 policy_sessions=None, truncated=False, evidence=None):
        self.config = normalize_rules(rules)
        self.rules = self.config["rules"]
        self.now, self.start, self.end = resolve_window(window, now)
        self._now = self.now.timestamp()
        self._ws = self.start.timestamp()
        self._we = self.end.timestamp()
        self.expected = normalize_expected(expected_vms)
        self.waivers = normalize_waivers(waivers)
        self.truncated = bool(truncated)
        if evidence is not None and not isinstance(evidence, Mapping):
            raise ComplianceConfigError("evidence", "expected a dictionary")
        self.evidence = dict(evidence or {})
        self._vms = {}
        self._received = 0
        self._invalid = 0
        self._policies = {}
        self._policy_order = []
        self._policy_sessions = {}
        self._tolerance = self._merge_tolerance()
        for policy in policies or ():
            self.add_policy(policy)
        for record in policy_sessions or ():
            self.add_policy_session(record)

    def _merge_tolerance(self, rpo=None):
        candidates = [MAX_MERGE_TOLERANCE, self.rules["coverage"]["fallback_max_gap"]]
        for rule, key in (("coverage", "max_gap"), ("rpo", "target")):
            if self.rules[rule][key] is not None:
                candidates.append(self.rules[rule][key])
        for entries in self.config["overrides"].values():
            for _pattern, settings in entries:
                candidates.extend(value for rule in ("coverage", "rpo") for key, value in settings.get(rule, {}).items()
                                  if key in ("max_gap", "fallback_max_gap", "target") and value is not None)
        if rpo is not None:
            candidates.append(rpo + self.rules["rpo"]["lag_tolerance"])
        return min(candidates)

    # -- input

    def add_policy(self, policy):
        if not isinstance(policy, Mapping):
            return
        info = describe_policy(policy)
        key = info["uid"] or "name:%s" % info["name"]
        if key not in self._policies:
            self._policy_order.append(key)
        self._policies[key] = info
        self._tolerance = min(self._tolerance, self._merge_tolerance(info["rpo_seconds"]))

    def add_policy_session(self, record):
        if not isinstance(record, Mapping):
            return
        info = describe_policy_session(record)
        if info["uid"]:
            self._policy_sessions[info["uid"]] = info

    def mark_truncated(self, truncated=True):
        self.truncated = self.truncated or bool(truncated)

    def add_sessions(self, records):
        add = self.add_session
        for record in records:
            add(record)

    def add_session(self, record):
        """Fold one normalised CDP task-session record into the per-VM state."""
        self._received += 1
        get = record.get
        vm = get("vm_display_name")
        if not vm:
            name = get("name") or ""
            vm = name.rsplit("@", 1)[0] if "@" in name else "(unknown VM)"
        state_obj = self._vms.get(vm)
        if state_obj is None:
            state_obj = self._vms[vm] = _VmState()
        state_obj.sessions += 1
        creation_text = get("creation_time_utc")
        start = _epoch(creation_text)
        if start is None:
            state_obj.invalid += 1
            self._invalid += 1
            return
        uid = get("uid")
        state = get("state")
        if state not in _STATE_ALIASES.values():
            state = _STATE_ALIASES.get(_norm_key(state), state)
        if start >= state_obj.latest_start:
            state_obj.latest_start = start
            state_obj.policy_session_uid = get("policy_session_uid")
            state_obj.policy_session_name = get("policy_session_name")
            server_uid = get("backup_server_uid")
            server_name = get("backup_server_name")
            if server_uid or server_name:
                state_obj.server_uid = server_uid
                state_obj.server_name = server_name
        end_text = get("end_time_utc")
        end = _epoch(end_text) if end_text else None
        window_start = self._ws
        window_end = self._we
        if end is None:
            if state == _STATE_COMPLETED:
                end, end_text = start, creation_text
            else:
                state_obj.running.append((start, uid, state, creation_text))
                if start < window_end:
                    state_obj.in_window += 1
                return
        if end > window_end:
            if start <= window_end:
                state_obj.running_at_end = True
        elif state_obj.last_end is None or end > state_obj.last_end:
            state_obj.last_end = end
            state_obj.last_end_uid = uid
        if end <= window_start:
            if state_obj.before_end is None or end > state_obj.before_end:
                state_obj.before_end = end
                state_obj.before_uid = uid
            return
        if start >= window_end:
            return
        state_obj.in_window += 1
        result = get("result")
        if (result == "Failed" or result == "Warning") and state == _STATE_COMPLETED:
            state_obj.flagged.append((result, uid, creation_text, end_text, get("reason")))
        _insert_interval(state_obj.intervals, start if start > window_start else window_start,
                         end if end < window_end else window_end, uid, uid, self._tolerance)

    # -- evaluation

    def _policy_index(self):
        by_name = {}
        by_vm = {}
        for key in self._policy_order:
            info = self._policies[key]
            if info["name"]:
                by_name.setdefault(info["name"].casefold(), info)
            for vm in info["vms_included"]:
                by_vm.setdefault(vm.casefold(), info)
        return by_name, by_vm

    def _policy_for(self, vm, state_obj, by_name, by_vm):
        """(policy info or None, policy session info or None) for a VM."""
        session = None
        if state_obj is not None and state_obj.policy_session_uid:
            session = self._policy_sessions.get(state_obj.policy_session_uid)
        if session is not None:
            policy = self._policies.get(session["policy_uid"]) if session["policy_uid"] else None
            if policy is None and session["policy_name"]:
                policy = by_name.get(session["policy_name"].casefold())
            if policy is None and (session["policy_uid"] or session["policy_name"]):
                policy = self._stub_policy(session["policy_uid"], session["policy_name"])
            return policy, session
        if state_obj is not None and state_obj.policy_session_name and "@" in state_obj.policy_session_name:
            policy = by_name.get(state_obj.policy_session_name.rsplit("@", 1)[0].casefold())
            if policy is not None:
                return policy, None
        return by_vm.get(vm.casefold()), None

    def _stub_policy(self, uid, name):
        key = uid or "name:%s" % name
        if key not in self._policies:
            self._policy_order.append(key)
            self._policies[key] = {
                "uid": uid, "name": name, "platform": None, "backup_server": None, "backup_server_uid": None, "enabled": None,
                "rpo_seconds": None, "rpo_reporting": {"warning": {"enabled": None, "threshold_seconds": None},
                                                       "error": {"enabled": None, "threshold_seconds": None}},
                "vms_included": [], "known": False,
            }
        return self._policies[key]

    def _effective_rules(self, vm, policy, server_uid, server_name, cache):
        overrides = self.config["overrides"]
        matched = (
            tuple(index for index, (pattern, _s) in enumerate(overrides["backup_servers"])
                  if _matches(pattern, server_name) or _matches(pattern, server_uid)),
            tuple(index for index, (pattern, _s) in enumerate(overrides["policies"])
                  if policy is not None and (_matches(pattern, policy["name"]) or _matches(pattern, policy["uid"]))),
            tuple(index for index, (pattern, _s) in enumerate(overrides["vms"]) if vm is not None and _matches(pattern, vm)),
        )
        if matched in cache:
            return cache[matched]
        effective = self.rules
        if any(matched):
            effective = {rule: dict(settings) for rule, settings in self.rules.items()}
            for level, indexes in zip(("backup_servers", "policies", "vms"), matched):
                for index in indexes:
                    for rule, settings in overrides[level][index][1].items():
                        effective[rule].update(settings)
        cache[matched] = effective
        return effective

    def finish(self):
        """Build the report (plain types only)."""
        by_name, by_vm = self._policy_index()
        names = set(self._vms)
        in_scope = set()
        scope_patterns = []
        folded = {}
        for name in names:
            folded.setdefault(name.casefold(), name)
        for pattern in self.expected:
            if _is_glob(pattern):
                hits = [name for name in names if _matches(pattern, name)]
                in_scope.update(hits)
                if not hits:
                    scope_patterns.append(pattern)
            elif pattern in names:
                in_scope.add(pattern)
            elif pattern.casefold() in folded:
                in_scope.add(folded[pattern.casefold()])
            else:
                in_scope.add(pattern)
                names.add(pattern)
        if self.rules["scope"]["enabled"] and self.rules["scope"]["from_policies"]:
            for key in self._policy_order:
                for vm in self._policies[key]["vms_included"]:
                    if vm.casefold() not in folded and vm not in names:
                        names.add(vm)
                    in_scope.add(folded.get(vm.casefold(), vm))
        cache = {}
        vms = []
        for name in sorted(names, key=lambda item: (item.casefold(), item)):
            vms.append(self._evaluate_vm(name, self._vms.get(name), name in in_scope, by_name, by_vm, cache))
        for pattern in scope_patterns:
            vms.append(self._unmatched_pattern(pattern))
        policies = self._evaluate_policies(vms)
        return self._assemble(vms, policies)

    def _evaluate_vm(self, name, state_obj, in_scope, by_name, by_vm, cache):
        policy, _session = self._policy_for(name, state_obj, by_name, by_vm)
        server_uid = state_obj.server_uid if state_obj else None
        server_name = state_obj.server_name if state_obj else None
        if server_name is None and policy is not None:
            server_uid, server_name = policy["backup_server_uid"], policy["backup_server"]
        rules = self._effective_rules(name, policy, server_uid, server_name, cache)
        coverage, rpo_rule, stuck = rules["coverage"], rules["rpo"], rules["stuck"]
        rpo = rpo_rule["target"] if rpo_rule["target"] is not None else (policy["rpo_seconds"] if policy else None)
        if coverage["max_gap"] is not None:
            max_gap, gap_source = coverage["max_gap"], "configured"
        elif rpo is not None:
            max_gap, gap_source = rpo + rpo_rule["lag_tolerance"], "policy_rpo"
        else:
            max_gap, gap_source = coverage["fallback_max_gap"], "default"
        window_start, window_end, now = self._ws, self._we, self._now
        findings = []

        intervals = [list(item) for item in state_obj.intervals] if state_obj else []
        running_now = False
        stuck_running, stuck_pending = [], []
        for start, uid, state, creation_text in (state_obj.running if state_obj else ()):
            age = now - start
            if state == _STATE_PENDING:
                if age > stuck["max_pending"]:
                    stuck_pending.append({"uid": uid, "creation_time_utc": creation_text, "pending_seconds": round(age, 3)})
                continue
            if start <= window_end:
                running_now = True
            covered_until = now
            if state == _STATE_RUNNING and age > stuck["max_task_duration"]:
                stuck_running.append({"uid": uid, "creation_time_utc": creation_text, "running_seconds": round(age, 3)})
                if stuck["enabled"]:
                    covered_until = start + stuck["max_task_duration"]
            if covered_until > window_start and start < window_end:
                _insert_interval(intervals, max(start, window_start), min(covered_until, window_end), uid, None, self._tolerance)

        # Coverage: gaps between merged intervals and at the window's edges.
        gaps = []
        previous_end, previous_uid = window_start, state_obj.before_uid if state_obj else None
        covered = 0.0
        for start, end, first_uid, last_uid in intervals:
            if start - previous_end > 0:
                gaps.append((start - previous_end, previous_end, start, previous_uid, first_uid))
            covered += end - start
            previous_end, previous_uid = end, last_uid
        if window_end - previous_end > 0:
            gaps.append((window_end - previous_end, previous_end, window_end, previous_uid, None))
        window_seconds = window_end - window_start
        percent = round(100.0 * covered / window_seconds, 2) if window_seconds > 0 else 0.0
        if covered < window_seconds and percent >= 100.0:
            percent = 99.99
        worst = max(gaps) if gaps else None
        long_gaps = [gap for gap in gaps if gap[0] > max_gap]
        in_window = state_obj.in_window if state_obj else 0

        if in_scope and rules["scope"]["enabled"] and in_window == 0:
            evidence = {"last_session_end": _iso(state_obj.last_end) if state_obj else None,
                        "last_session": state_obj.last_end_uid if state_obj else None}
            findings.append(_finding("scope", "no_sessions", VIOLATION, "VM is in the expected scope but has no CDP task session in the audit window",
                                     evidence))
        if coverage["enabled"] and long_gaps:
            shown, more = _capped(sorted(long_gaps, key=lambda gap: gap[1]))
            findings.append(_finding(
                "coverage", "gap", VIOLATION,
                "%d gap%s longer than %s in the session record (worst %s from %s to %s)" % (
                    len(long_gaps), "" if len(long_gaps) == 1 else "s", human_duration(max_gap), human_duration(worst[0]),
                    _iso(worst[1]), _iso(worst[2])),
                {"max_gap_seconds": max_gap, "threshold_source": gap_source, "coverage_percent": percent,
                 "gaps": [{"from": _iso(gap[1]), "to": _iso(gap[2]), "seconds": round(gap[0], 3), "before": gap[3], "after": gap[4]}
                          for gap in shown], "more": more}))

        rpo_tier = None
        ratio = None
        if rpo_rule["enabled"]:
            if rpo is None:
                findings.append(_finding("rpo", "rpo_unknown", INFO,
                                         "RPO unknown: %s" % ("no CDP policy found for this VM" if policy is None
                                                              else "policy %s has no recognisable RPO setting" % policy["name"]),
                                         {"policy": policy["name"] if policy else None}))
            elif worst is not None:
                threshold = rpo + rpo_rule["lag_tolerance"]
                ratio = worst[0] / threshold if threshold > 0 else float("inf")
                if worst[0] > threshold:
                    rpo_tier = "minor" if ratio <= 2 else "major" if ratio <= 4 else "critical"
                    cause = self._breach_cause(state_obj, in_window, policy, _session)
                    findings.append(_finding(
                        "rpo", "rpo_breached", rpo_rule["%s_severity" % rpo_tier],
                        "RPO breached (%s): worst gap %s is %.1fx the RPO of %s plus %s lag tolerance%s" % (
                            rpo_tier, human_duration(worst[0]), ratio, human_duration(rpo), human_duration(rpo_rule["lag_tolerance"]),
                            "" if cause == "gap" else " (%s)" % cause.replace("_", " ")),
                        {"rpo_seconds": rpo, "lag_tolerance_seconds": rpo_rule["lag_tolerance"], "threshold_seconds": threshold,
                         "worst_gap_seconds": round(worst[0], 3), "ratio": round(ratio, 2), "tier": rpo_tier, "cause": cause,
                         "from": _iso(worst[1]), "to": _iso(worst[2]), "before": worst[3], "after": worst[4],
                         "policy": policy["name"] if policy else None}))

        replication_failed = False
        flagged = state_obj.flagged if state_obj else []
        if flagged and rules["failures"]["enabled"]:
            seen = set()
            failed, warned = [], []
            for result, uid, creation_text, end_text, reason in sorted(flagged, key=lambda item: item[2] or ""):
                if uid in seen:
                    continue
                seen.add(uid)
                entry = {"uid": uid, "creation_time_utc": creation_text, "end_time_utc": end_text, "reason": _text(reason)}
                (failed if result == "Failed" else warned).append(entry)
            for code, label, entries, severity in (("replication_failed", "failed", failed, rules["failures"]["failed_severity"]),
                                                   ("replication_warning", "ended with a warning",
                                                    warned, rules["failures"]["warning_severity"])):
                if not entries:
                    continue
                shown, more = _capped(entries)
                reasons = sorted({entry["reason"] for entry in entries if entry["reason"]})
                findings.append(_finding(
                    "failures", code, severity,
                    "%d task session%s %s%s" % (len(entries), "" if len(entries) == 1 else "s", label,
                                                (": " + reasons[0][:200]) if reasons else ""),
                    {"sessions": shown, "more": more}))
                replication_failed = replication_failed or code == "replication_failed"

        if stuck["enabled"]:
            for code, entries, limit_key, label in (("stuck_in_progress", stuck_running, "max_task_duration", "InProgress"),
                                                    ("stuck_pending", stuck_pending, "max_pending", "Pending")):
                if entries:
                    shown, more = _capped(entries)
                    findings.append(_finding(
                        "stuck", code, VIOLATION,
                        "%d session%s %s for longer than %s" % (
                            len(entries), "" if len(entries) == 1 else "s", label, human_duration(stuck[limit_key])),
                        {"limit_seconds": stuck[limit_key], "sessions": shown, "more": more}))

        if rules["freshness"]["enabled"] and not running_now and not (state_obj and state_obj.running_at_end):
            last_end = state_obj.last_end if state_obj else None
            limit = rules["freshness"]["max_staleness"]
            if last_end is None or window_end - last_end > limit:
                findings.append(_finding(
                    "freshness", "stale", VIOLATION,
                    "protection stopped: no session in progress and %s" % (
                        "no session ever ended" if last_end is None else "the last one ended %s before the window end (%s)" % (
                            human_duration(window_end - last_end), _iso(last_end))),
                    {"max_staleness_seconds": limit, "last_session_end": _iso(last_end),
                     "last_session": state_obj.last_end_uid if state_obj else None,
                     "age_seconds": round(window_end - last_end, 3) if last_end is not None else None}))

        if state_obj is not None and state_obj.invalid:
            findings.append(_finding("data_sufficiency", "invalid_sessions", INFO,
                                     "%d session%s without a valid creation time were ignored" % (
                                         state_obj.invalid, "" if state_obj.invalid == 1 else "s"), {"count": state_obj.invalid}))

        self._apply_waivers("vm", name, findings)
        timeline = [[int(start - window_start), int(end - window_start + 0.999)] for start, end, _f, _l in intervals[:TIMELINE_LIMIT]]
        entry = {
            "name": name,
            "status": _status_of(findings),
            "in_scope": in_scope,
            "backup_server": server_name,
            "backup_server_uid": server_uid,
            "policy": policy["name"] if policy else None,
            "policy_uid": policy["uid"] if policy else None,
            "rpo_seconds": rpo,
            "max_gap_seconds": max_gap,
            "max_gap_source": gap_source,
            "sessions": in_window,
            "coverage_percent": percent,
            "worst_gap_seconds": round(worst[0], 3) if worst else 0.0,
            "rpo_ratio": round(ratio, 2) if ratio is not None else None,
            "rpo_breached": rpo_tier is not None,
            "rpo_tier": rpo_tier,
            "replication_failed": replication_failed,
            "running": running_now,
            "last_session_end": _iso(state_obj.last_end) if state_obj else None,
            "findings": findings,
            "timeline": timeline,
        }
        if len(intervals) > TIMELINE_LIMIT:
            entry["timeline_more"] = len(intervals) - TIMELINE_LIMIT
        return entry

    def _breach_cause(self, state_obj, in_window, policy, session):
        if state_obj is None or state_obj.sessions == 0:
            return "never_started"
        if policy is not None and policy["enabled"] is False:
            return "policy_disabled"
        if session is not None and session["state"] in ("Stopped", "Stopping", "Pausing"):
            return "policy_session_%s" % session["state"].lower()
        if in_window == 0:
            return "no_sessions_in_window"
        return "gap"

    def _unmatched_pattern(self, pattern):
        findings = []
        if self.rules["scope"]["enabled"]:
            findings.append(_finding("scope", "pattern_unmatched", VIOLATION,
                                     "no VM matching the expected pattern %s has any CDP task session" % pattern, {"pattern": pattern}))
        self._apply_waivers("vm", pattern, findings)
        return {
            "name": pattern, "pattern": True, "status": _status_of(findings), "in_scope": True, "backup_server": None,
            "backup_server_uid": None, "policy": None, "policy_uid": None, "rpo_seconds": None, "max_gap_seconds": None,
            "max_gap_source": None, "sessions": 0, "coverage_percent": 0.0, "worst_gap_seconds": round(self._we - self._ws, 3),
            "rpo_ratio": None, "rpo_breached": False, "rpo_tier": None, "replication_failed": False, "running": False,
            "last_session_end": None, "findings": findings, "timeline": [],
        }

    def _apply_waivers(self, target, name, findings):
        now = self._now
        active = None
        for waiver in self.waivers:
            if waiver["target"] != target or not _matches(waiver["pattern"], name):
                continue
            if waiver["expires_at"] <= now:
                waiver["_expired_hits"] = waiver.get("_expired_hits", 0) + 1
                findings.append(_finding("waiver", "waiver_expired", INFO,
                                         "waiver expired on %s and no longer applies (reason was: %s)" % (waiver["expires"], waiver["reason"]),
                                         {"pattern": waiver["pattern"], "expires": waiver["expires"], "reason": waiver["reason"],
                                          "rules": waiver["rules"]}))
            elif active is None:
                active = waiver
        if active is None:
            return
        applied = 0
        for finding in findings:
            if finding["severity"] == INFO or (active["rules"] is not None and finding["rule"] not in active["rules"]):
                continue
            finding["waived"] = True
            finding["waiver"] = {"pattern": active["pattern"], "reason": active["reason"], "expires": active["expires"]}
            applied += 1
        active["_applied"] = active.get("_applied", 0) + applied

    def _evaluate_policies(self, vms):
        members = {}
        for vm in vms:
            key = vm["policy_uid"] or ("name:%s" % vm["policy"] if vm["policy"] else None)
            if key is not None:
                members.setdefault(key, []).append(vm)
        sessions_by_policy = {}
        for session in self._policy_sessions.values():
            key = session["policy_uid"]
            if key not in self._policies and session["policy_name"]:
                key = next((k for k in self._policy_order if self._policies[k]["name"] == session["policy_name"]), None)
            sessions_by_policy.setdefault(key, []).append(session)
        cache = {}
        result = []
        for key in self._policy_order:
            info = self._policies[key]
            rules = self._effective_rules(None, info, info["backup_server_uid"], info["backup_server"], cache)["policy_config"]
            findings = []
            if rules["enabled"]:
                findings.extend(self._policy_findings(info, rules, sessions_by_policy.get(key, [])))
            self._apply_waivers("policy", info["name"] or info["uid"] or "", findings)
            policy_vms = members.get(key, [])
            statuses = [vm["status"] for vm in policy_vms]
            breaches = [vm for vm in policy_vms if vm["rpo_breached"]]
            worst = max(breaches, key=lambda vm: (vm["rpo_ratio"] or 0, vm["worst_gap_seconds"])) if breaches else None
            status = _status_of(findings)
            for vm_status in statuses:
                status = worse(status, vm_status)
            result.append({
                "uid": info["uid"], "name": info["name"], "known": info["known"], "platform": info["platform"],
                "backup_server": info["backup_server"], "backup_server_uid": info["backup_server_uid"], "enabled": info["enabled"],
                "rpo_seconds": info["rpo_seconds"], "rpo_reporting": info["rpo_reporting"], "status": status,
                "own_status": _status_of(findings), "vms": len(policy_vms), "compliant": statuses.count(COMPLIANT),
                "warning": statuses.count(WARNING), "non_compliant": statuses.count(NON_COMPLIANT), "rpo_breaches": len(breaches),
                "worst_breach": {"vm": worst["name"], "worst_gap_seconds": worst["worst_gap_seconds"], "ratio": worst["rpo_ratio"],
                                 "tier": worst["rpo_tier"]} if worst else None,
                "findings": findings,
            })
        return result

    def _policy_findings(self, info, rules, sessions):
        findings = []
        label = info["name"] or info["uid"]
        if not info["known"]:
            findings.append(_finding("policy_config", "policy_not_found", INFO,
                                     "policy %s is referenced by policy sessions but was not in the policy list" % label, {"uid": info["uid"]}))
        if rules["disabled_policies"] and info["enabled"] is False:
            findings.append(_finding("policy_config", "policy_disabled", WARNING, "policy %s is disabled" % label,
                                     {"uid": info["uid"], "enabled": False}))
        if rules["rpo_reporting"] and info["known"]:
            reporting = info["rpo_reporting"]
            for level, code, text in (("warning", "rpo_warning_reporting_off", "RPO warning reporting"),
                                      ("error", "rpo_error_reporting_off", "RPO error reporting")):
                if reporting[level]["enabled"] is False:
                    findings.append(_finding("policy_config", code, WARNING, "%s is switched off for policy %s" % (text, label),
                                             {"uid": info["uid"], "setting": "rpo_reporting.%s" % level, "enabled": False}))
            if reporting["warning"]["enabled"] is None and reporting["error"]["enabled"] is None:
                findings.append(_finding("policy_config", "rpo_reporting_unknown", INFO,
                                         "RPO reporting settings of policy %s were not found" % label, {"uid": info["uid"]}))
        if info["rpo_seconds"] is None and info["known"]:
            findings.append(_finding("policy_config", "rpo_unknown", INFO, "policy %s has no recognisable RPO setting" % label,
                                     {"uid": info["uid"]}))
        if rules["failed_sessions"]:
            failed, warned = [], []
            for session in sessions:
                start = _epoch(session["creation_time_utc"])
                end = _epoch(session["end_time_utc"])
                if start is None or start >= self._we or (end is not None and end <= self._ws):
                    continue
                if session["result"] == "Failed":
                    failed.append(session)
                elif session["result"] == "Warning" and session["end_time_utc"]:
                    warned.append(session)
            for code, entries, severity, text in (("policy_session_failed", failed, VIOLATION, "failed"),
                                                  ("policy_session_warning", warned, WARNING, "ended with a warning")):
                if not entries:
                    continue
                entries.sort(key=lambda session: session["creation_time_utc"] or "")
                shown, more = _capped(entries)
                messages = [session["failure_message"] for session in entries if session["failure_message"]]
                findings.append(_finding(
                    "policy_config", code, severity,
                    "%d policy session%s of %s %s%s" % (len(entries), "" if len(entries) == 1 else "s", label, text,
                                                        (": " + messages[0][:200]) if messages else ""),
                    {"sessions": [{"uid": s["uid"], "name": s["name"], "state": s["state"], "result": s["result"],
                                   "creation_time_utc": s["creation_time_utc"], "end_time_utc": s["end_time_utc"],
                                   "failure_message": s["failure_message"]} for s in shown], "more": more}))
        return findings

    def _data_findings(self):
        findings = []
        issues = []
        settings = self.rules["data_sufficiency"]
        if not settings["enabled"]:
            return findings, issues
        if self.truncated:
            issues.append("truncated")
            findings.append(_finding("data_sufficiency", "truncated", INFO, "the session query was truncated: not every session was evaluated",
                                     {"truncated": True}))
        history_start = self._now - settings["history_days"] * 86400
        if self._ws < history_start:
            issues.append("window_exceeds_history")
            findings.append(_finding(
                "data_sufficiency", "window_exceeds_history", INFO,
                "the audit window starts %s, before the %d days of session history EM keeps (%s)" % (
                    _iso(self._ws), settings["history_days"], _iso(history_start)),
                {"window_start": _iso(self._ws), "history_start": _iso(history_start), "history_days": settings["history_days"]}))
        if self._we > self._now:
            issues.append("window_in_future")
            findings.append(_finding("data_sufficiency", "window_in_future", INFO,
                                     "the audit window ends %s, after the evaluation time %s" % (_iso(self._we), _iso(self._now)),
                                     {"window_end": _iso(self._we), "now": _iso(self._now)}))
        if self._invalid:
            issues.append("invalid_sessions")
            findings.append(_finding("data_sufficiency", "invalid_sessions", INFO,
                                     "%d session records had no valid creation time" % self._invalid, {"count": self._invalid}))
        return findings, issues

    def _assemble(self, vms, policies):
        findings, issues = self._data_findings()
        generated = utcnow()
        counts = {COMPLIANT: 0, WARNING: 0, NON_COMPLIANT: 0}
        severity_counts = {VIOLATION: 0, WARNING: 0, INFO: 0}
        waived = 0
        for vm in vms:
            counts[vm["status"]] += 1
        for finding in _all_findings(vms, policies, findings):
            if finding["waived"]:
                waived += 1
            else:
                severity_counts[finding["severity"]] += 1
        if issues:
            verdict = INCOMPLETE
        elif severity_counts[VIOLATION]:
            verdict = NON_COMPLIANT
        elif severity_counts[WARNING]:
            verdict = WARNING
        else:
            verdict = COMPLIANT
        policy_counts = {COMPLIANT: 0, WARNING: 0, NON_COMPLIANT: 0}
        for policy in policies:
            policy_counts[policy["status"]] += 1
        window = {"start": format_utc(self.start), "end": format_utc(self.end), "seconds": round(self._we - self._ws, 3)}
        evidence = plain(self.evidence)
        evidence.setdefault("query", None)
        evidence.setdefault("em_host", None)
        evidence.setdefault("api_version", None)
        evidence.setdefault("collection_version", None)
        evidence.update({
            "truncated": self.truncated,
            "window": window,
            "now": format_utc(self.now),
            "generated_at": format_utc(generated),
            "rules": plain(self.rules),
            "overrides": {level: [{"pattern": pattern, "rules": plain(settings)} for pattern, settings in entries]
                          for level, entries in self.config["overrides"].items()},
            "expected_vms": list(self.expected),
            "waivers": [{key: waiver[key] for key in ("target", "pattern", "reason", "expires", "rules")} for waiver in self.waivers],
            "policies": [plain(self._policies[key]) for key in self._policy_order],
            "sessions_received": self._received,
            "policy_sessions_received": len(self._policy_sessions),
            "merge_tolerance_seconds": self._tolerance,
        })
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": REPORT_KIND,
            "verdict": verdict,
            "em_host": evidence.get("em_host"),
            "generated_at": format_utc(generated),
            "now": format_utc(self.now),
            "window": window,
            "data": {"complete": not issues, "truncated": self.truncated, "issues": issues},
            "summary": {
                "vms": len(vms), "compliant": counts[COMPLIANT], "warning": counts[WARNING], "non_compliant": counts[NON_COMPLIANT],
                "in_scope": sum(1 for vm in vms if vm["in_scope"]),
                "rpo_breached": sum(1 for vm in vms if vm["rpo_breached"]),
                "replication_failed": sum(1 for vm in vms if vm["replication_failed"]),
                "findings": severity_counts, "waived": waived,
                "policies": len(policies), "policies_by_status": policy_counts,
                "sessions": self._received,
            },
            "findings": findings,
            "vms": vms,
            "policies": policies,
            "waivers": [{"target": waiver["target"], "pattern": waiver["pattern"], "reason": waiver["reason"], "expires": waiver["expires"],
                         "rules": waiver["rules"], "status": "expired" if waiver["expires_at"] <= self._now else "active",
                         "applied": waiver.get("_applied", 0)} for waiver in self.waivers],
            "evidence": evidence,
        }


def _all_findings(vms, policies, findings):
    for vm in vms:
        yield from vm["findings"]
    for policy in policies:
        yield from policy["findings"]
    yield from findings


def evaluate(sessions, rules=None, now=None, window=None, expected_vms=None, waivers=None, policies=None, policy_sessions=None,
             truncated=False, evidence=None):
    """One-shot evaluation of an iterable of normalised task-session records."""
    evaluator = ComplianceEvaluator(rules=rules, now=now, window=window, expected_vms=expected_vms, waivers=waivers, policies=policies,
                                    policy_sessions=policy_sessions, truncated=truncated, evidence=evidence)
    evaluator.add_sessions(sessions or ())
    return evaluator.finish()
