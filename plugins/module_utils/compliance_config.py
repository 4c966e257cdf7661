# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compliance configuration: the rule table, rule settings and overrides, waivers, expected VMs, the audit window.

Everything here validates user input before any evaluation and raises ComplianceConfigError naming the bad key.
"""

from __future__ import annotations

import datetime
import fnmatch
import re
from collections.abc import Mapping

from .errors import InvalidInputError
from .timeutil import UTC, format_utc, parse_duration, parse_iso, parse_time, utcnow

VIOLATION = "violation"
WARNING = "warning"
INFO = "info"
SEVERITIES = (VIOLATION, WARNING, INFO)

# A new rule goes into one of these lists and RULE_SCHEMA; its check into compliance_checks.py (docs/compliance-rules.md).
VM_RULES = ("scope", "coverage", "rpo", "failures", "stuck", "freshness")
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

DEFAULT_WINDOW_START = "-24h"

_GLOB_CHARS = re.compile(r"[*?\[]")


class ComplianceConfigError(InvalidInputError):
    """Invalid rules, waivers, window or expected scope. ``option`` names the bad key."""


def is_glob(pattern):
    return bool(_GLOB_CHARS.search(pattern))


def matches(pattern, name):
    """Whether a name or glob from the configuration matches ``name``, ignoring case."""
    if name is None:
        return False
    if not is_glob(pattern):
        return pattern.casefold() == name.casefold()
    return fnmatch.fnmatchcase(name.casefold(), pattern.casefold())


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
        result[level].sort(key=lambda item: (not is_glob(item[0]), len(_GLOB_CHARS.sub("", item[0]))))
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
    start_value, end_value = DEFAULT_WINDOW_START, "now"
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
