# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report vocabulary shared by the engine, the report writer and the filters: verdicts and their order,
the VM rules, the unreachable-EM entry, and the combination of per-EM reports."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from .errors import InvalidInputError
from .timeutil import format_utc, utcnow

SCHEMA_VERSION = 1
COMBINED_KIND = "cdp_compliance_combined_report"
UNREACHABLE_KIND = "cdp_compliance_unreachable"

VIOLATION = "violation"
INFO = "info"
COMPLIANT = "compliant"
WARNING = "warning"
NON_COMPLIANT = "non_compliant"
INCOMPLETE = "incomplete"
VERDICT_ORDER = {COMPLIANT: 0, WARNING: 1, NON_COMPLIANT: 2, INCOMPLETE: 3}

VM_RULES = ("scope", "coverage", "rpo", "failures", "stuck", "freshness")


class ComplianceConfigError(InvalidInputError, ValueError):
    """Invalid rules, waivers, window or expected scope. ``option`` names the bad key."""


def worse(first, second):
    """The worse of two verdicts."""
    return first if VERDICT_ORDER[first] >= VERDICT_ORDER[second] else second


def human_duration(seconds):
    """Short human form: ``45s``, ``15m``, ``2h 5m``, ``3d 4h``."""
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return "%dm" % minutes if not sec else "%dm %ds" % (minutes, sec)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return "%dh" % hours if not minutes else "%dh %dm" % (hours, minutes)
    days, hours = divmod(hours, 24)
    return "%dd" % days if not hours else "%dd %dh" % (days, hours)


def plain(value):
    """JSON-safe copy with plain types only (dict, list, str, int, float, bool, None)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return format_utc(value) if isinstance(value, datetime.datetime) else value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    return str(value)


def unreachable_entry(em_host, error):
    """The entry that stands for an EM that could not be audited."""
    return {"kind": UNREACHABLE_KIND, "em_host": em_host, "status": "unreachable", "verdict": INCOMPLETE, "error": error}


def is_unreachable_entry(item):
    """True for an unreachable-EM entry, or a failed task result standing for one (never for a report)."""
    return isinstance(item, Mapping) and "vms" not in item and bool(
        item.get("kind") == UNREACHABLE_KIND or item.get("status") == "unreachable" or item.get("failed") or item.get("unreachable"))


def _text(value):
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _combined_entry(item, index):
    host = _text(item.get("em_host") or item.get("host") or (item.get("evidence") or {}).get("em_host") or item.get("item"))
    error = _text(item.get("error") or item.get("msg") or item.get("message")) or "EM could not be reached"
    return {"em_host": host or "em-%d" % (index + 1), "status": "unreachable", "verdict": INCOMPLETE, "error": error, "summary": None}


def combine_reports(reports):
    """One report over several EMs. Entries are per-EM reports or ``{em_host, status: unreachable, error}``
    (a failed Ansible task result with ``failed``/``msg`` works too)."""
    if isinstance(reports, Mapping) or not hasattr(reports, "__iter__"):
        raise ComplianceConfigError("reports", "expected a list of per-EM reports")
    ems, vms, policies, findings, evidence = [], [], [], [], []
    verdict = COMPLIANT
    issues = []
    windows = []
    for index, item in enumerate(reports):
        if not isinstance(item, Mapping):
            raise ComplianceConfigError("reports[%d]" % index, "expected a report dictionary")
        if item.get("kind") == COMBINED_KIND:
            raise ComplianceConfigError("reports[%d]" % index, "combined reports cannot be combined again; pass the per-EM reports")
        if "vms" not in item or is_unreachable_entry(item):
            entry = _combined_entry(item, index)
            ems.append(entry)
            verdict = INCOMPLETE
            issues.append("unreachable:%s" % entry["em_host"])
            findings.append({"rule": "data_sufficiency", "code": "em_unreachable", "severity": INFO,
                             "message": "EM %s was unreachable: %s" % (entry["em_host"], entry["error"]),
                             "evidence": {"error": entry["error"]}, "waived": False, "em_host": entry["em_host"]})
            continue
        host = item.get("em_host") or (item.get("evidence") or {}).get("em_host") or "em-%d" % (index + 1)
        ems.append({"em_host": host, "status": "ok", "verdict": item.get("verdict"), "error": None, "summary": item.get("summary"),
                    "window": item.get("window"), "data": item.get("data")})
        verdict = worse(verdict, item.get("verdict", INCOMPLETE))
        if not (item.get("data") or {}).get("complete", True):
            issues.extend("%s:%s" % (host, issue) for issue in (item.get("data") or {}).get("issues", []))
        windows.append(item.get("window"))
        vms.extend(dict(vm, em_host=host) for vm in item.get("vms", ()))
        policies.extend(dict(policy, em_host=host) for policy in item.get("policies", ()))
        findings.extend(dict(finding, em_host=host) for finding in item.get("findings", ()))
        evidence.append(dict(item.get("evidence") or {}, em_host=host))
    if issues:
        verdict = INCOMPLETE
    counts = {COMPLIANT: 0, WARNING: 0, NON_COMPLIANT: 0}
    for vm in vms:
        counts[vm["status"]] = counts.get(vm["status"], 0) + 1
    severity_counts = {VIOLATION: 0, WARNING: 0, INFO: 0}
    waived = 0
    every_finding = [finding for vm in vms for finding in vm["findings"]]
    every_finding += [finding for policy in policies for finding in policy["findings"]] + findings
    for finding in every_finding:
        if finding.get("waived"):
            waived += 1
        else:
            severity_counts[finding.get("severity", INFO)] = severity_counts.get(finding.get("severity", INFO), 0) + 1
    same_window = windows and all(window == windows[0] for window in windows)
    generated = format_utc(utcnow())
    return plain({
        "schema_version": SCHEMA_VERSION,
        "kind": COMBINED_KIND,
        "verdict": verdict,
        "em_host": None,
        "generated_at": generated,
        "window": windows[0] if same_window else None,
        "data": {"complete": not issues, "truncated": any((em.get("data") or {}).get("truncated") for em in ems), "issues": issues},
        "ems": ems,
        "summary": {
            "ems": len(ems), "ems_unreachable": sum(1 for em in ems if em["status"] == "unreachable"),
            "vms": len(vms), "compliant": counts.get(COMPLIANT, 0), "warning": counts.get(WARNING, 0),
            "non_compliant": counts.get(NON_COMPLIANT, 0),
            "rpo_breached": sum(1 for vm in vms if vm.get("rpo_breached")),
            "replication_failed": sum(1 for vm in vms if vm.get("replication_failed")),
            "findings": severity_counts, "waived": waived, "policies": len(policies),
        },
        "findings": findings,
        "vms": vms,
        "policies": policies,
        "evidence": {"generated_at": generated, "reports": evidence},
    })
