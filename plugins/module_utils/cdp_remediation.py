# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which audited CDP policies to bring to the organisation's standard, and to what: the plan the compliance role's
opt-in remediation hands to the cdp_policy module, one entry per policy.

A plan only ever enables (a policy, a report) and tightens an RPO; it never disables anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import InvalidInputError
from .timeutil import parse_duration

# Audit finding (policy_config rule) -> the standard's key that fixes it.
FINDINGS = {"policy_disabled": "enabled", "rpo_warning_reporting_off": "rpo_warning", "rpo_error_reporting_off": "rpo_error"}
RPO_REASON = "rpo_above_standard"
STANDARD_KEYS = ("enabled", "max_rpo", "rpo_warning", "rpo_error")


def normalize_standard(standard):
    """{enabled, max_rpo_seconds, rpo_warning, rpo_error} from the role's standard; InvalidInputError on bad values."""
    option = "cdp_compliance_policy_standard"
    standard = dict(standard or {})
    unknown = sorted(set(standard) - set(STANDARD_KEYS))
    if unknown:
        raise InvalidInputError(option, "unknown key(s) %s." % ", ".join(unknown), "Known keys: %s." % ", ".join(STANDARD_KEYS))
    result = {}
    for key in ("enabled", "rpo_warning", "rpo_error"):
        value = standard.get(key, True)
        if not isinstance(value, bool):
            raise InvalidInputError("%s.%s" % (option, key), "%r is not true or false." % (value,))
        result[key] = value
    max_rpo = standard.get("max_rpo")
    result["max_rpo_seconds"] = None
    if max_rpo not in (None, ""):
        try:
            seconds = parse_duration(max_rpo)
        except ValueError as exc:
            raise InvalidInputError("%s.max_rpo" % option, str(exc), "Use seconds or a duration such as 15s or 5m.")
        if seconds < 1 or seconds != int(seconds):
            raise InvalidInputError("%s.max_rpo" % option, "%r is not a whole number of seconds of at least 1." % (max_rpo,))
        result["max_rpo_seconds"] = int(seconds)
    return result


def _names(value):
    if value in (None, "", []):
        return None
    values = [value] if isinstance(value, str) else list(value)
    return {str(item).casefold() for item in values}


def in_scope(policy, servers, vm_scoped):
    """A policy is in the audit's scope when it is on an audited backup server and, if the audit was limited to some
    VMs, holds at least one of them."""
    if not policy.get("known", True) or not policy.get("uid"):
        return False
    if servers is not None and (policy.get("backup_server") or "").casefold() not in servers:
        return False
    return not vm_scoped or bool(policy.get("vms"))


def _entry(policy, standard):
    reasons = []
    settings = {}
    for finding in policy.get("findings") or []:
        key = FINDINGS.get(finding.get("code"))
        if key is None or finding.get("waived") or not standard[key]:
            continue
        reasons.append(finding["code"])
        settings[key] = True if key == "enabled" else {"enabled": True}
    cap = standard["max_rpo_seconds"]
    rpo = policy.get("rpo_seconds")
    if cap is not None and rpo is not None and rpo > cap:
        reasons.append(RPO_REASON)
        settings["rpo"] = cap
    if not reasons:
        return None
    return {"uid": policy["uid"], "name": policy.get("name"), "backup_server": policy.get("backup_server"), "reasons": reasons,
            "set": settings, "before": {"enabled": policy.get("enabled"), "rpo_seconds": rpo,
                                        "rpo_reporting": policy.get("rpo_reporting")}}


def remediation_plan(report, standard=None, backup_server_name=None, vm_display_name=None, filter_expression=None):
    """The policies of an audit report that fail the standard, each with the settings that bring it there."""
    if not isinstance(report, Mapping):
        raise InvalidInputError("report", "expected the audit report (a dictionary).")
    standard = normalize_standard(standard)
    if report.get("status") == "unreachable" or "policies" not in report:
        return []
    servers = _names(backup_server_name)
    vm_scoped = _names(vm_display_name) is not None or bool(filter_expression)
    plan = []
    for policy in report["policies"]:
        if in_scope(policy, servers, vm_scoped):
            entry = _entry(policy, standard)
            if entry is not None:
                plan.append(entry)
    return plan
