# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report's vocabulary and assembly: verdicts, findings and their counts, one EM's report, several EMs combined.

The role, the report action and the renderers take these names from here, so each fact is written once:
the verdict order, the VM rule list, and what an "unreachable EM" entry is (docs/report-format.md).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from .compliance_config import INFO, VIOLATION, VM_RULES, WARNING, ComplianceConfigError
from .compliance_policy import text
from .timeutil import format_utc, utcnow

__all__ = (
    "COMBINED_KIND", "COMPLIANT", "INCOMPLETE", "INFO", "NON_COMPLIANT", "REPORT_KIND", "SCHEMA_VERSION", "UNREACHABLE_KIND",
    "VERDICT_ORDER", "VIOLATION", "VM_RULES", "WARNING", "assemble_report", "combine_reports", "count_findings", "finding",
    "human_duration", "is_unreachable_entry", "plain", "policy_entry", "status_of", "unreachable_entry", "worse",
)

SCHEMA_VERSION = 1
REPORT_KIND = "cdp_compliance_report"
COMBINED_KIND = "cdp_compliance_combined_report"
UNREACHABLE_KIND = "cdp_compliance_unreachable"

COMPLIANT = "compliant"
NON_COMPLIANT = "non_compliant"
INCOMPLETE = "incomplete"
VERDICT_ORDER = {COMPLIANT: 0, WARNING: 1, NON_COMPLIANT: 2, INCOMPLETE: 3}


def worse(first, second):
    """The worse of two verdicts (VERDICT_ORDER)."""
    return first if VERDICT_ORDER[first] >= VERDICT_ORDER[second] else second


def finding(rule, code, severity, message, evidence=None):
    return {"rule": rule, "code": code, "severity": severity, "message": message, "evidence": evidence or {}, "waived": False}


def status_of(findings):
    """A VM's or policy's status: non_compliant with an unwaived violation, warning with an unwaived warning."""
    status = COMPLIANT
    for item in findings:
        if item["waived"]:
            continue
        if item["severity"] == VIOLATION:
            return NON_COMPLIANT
        if item["severity"] == WARNING:
            status = WARNING
    return status


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


# ----------------------------------------------------------------------------- counting and one EM's report

def count_findings(vms, policies, findings):
    """(unwaived findings per severity, waived findings) over the VMs', the policies' and the report's findings."""
    severities = {VIOLATION: 0, WARNING: 0, INFO: 0}
    waived = 0
    for items in [vm["findings"] for vm in vms] + [policy["findings"] for policy in policies] + [findings]:
        for item in items:
            if item.get("waived"):
                waived += 1
            else:
                severity = item.get("severity", INFO)
                severities[severity] = severities.get(severity, 0) + 1
    return severities, waived


def count_statuses(entries):
    """How many VMs or policies are compliant, warning and non_compliant."""
    counts = {COMPLIANT: 0, WARNING: 0, NON_COMPLIANT: 0}
    for entry in entries:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    return {status: counts[status] for status in (COMPLIANT, WARNING, NON_COMPLIANT)}


def verdict_of(severities, issues):
    """incomplete with data issues, else by the worst unwaived finding."""
    if issues:
        return INCOMPLETE
    if severities[VIOLATION]:
        return NON_COMPLIANT
    if severities[WARNING]:
        return WARNING
    return COMPLIANT


def assemble_report(*, vms, policies, findings, issues, truncated, window, now, generated_at, sessions, waivers, evidence):
    """One EM's report (docs/report-format.md) from evaluated VMs, policies and report-level findings."""
    severities, waived = count_findings(vms, policies, findings)
    counts = count_statuses(vms)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": REPORT_KIND,
        "verdict": verdict_of(severities, issues),
        "em_host": evidence.get("em_host"),
        "generated_at": generated_at,
        "now": now,
        "window": window,
        "data": {"complete": not issues, "truncated": truncated, "issues": issues},
        "summary": {
            "vms": len(vms), "compliant": counts[COMPLIANT], "warning": counts[WARNING], "non_compliant": counts[NON_COMPLIANT],
            "in_scope": sum(1 for vm in vms if vm["in_scope"]),
            "rpo_breached": sum(1 for vm in vms if vm["rpo_breached"]),
            "replication_failed": sum(1 for vm in vms if vm["replication_failed"]),
            "findings": severities, "waived": waived,
            "policies": len(policies), "policies_by_status": count_statuses(policies),
            "sessions": sessions,
        },
        "findings": findings,
        "vms": vms,
        "policies": policies,
        "waivers": waivers,
        "evidence": evidence,
    }


def policy_entry(info, findings, members):
    """A policy in the report: its settings, own findings, and its VMs' statuses and worst RPO breach.

    Two verdicts, kept apart so a reader sees which one fails: config_status (the policy's own findings: its
    configuration and its policy sessions) and vms_status (the worst of its VMs); status is the worse of the two.
    """
    statuses = [vm["status"] for vm in members]
    breaches = [vm for vm in members if vm["rpo_breached"]]
    worst = max(breaches, key=lambda vm: (vm["rpo_ratio"] or 0, vm["worst_gap_seconds"])) if breaches else None
    config_status = status_of(findings)
    vms_status = COMPLIANT
    for vm_status in statuses:
        vms_status = worse(vms_status, vm_status)
    vm_counts = {key: statuses.count(key) for key in (COMPLIANT, WARNING, NON_COMPLIANT)}
    return {
        "uid": info["uid"], "name": info["name"], "known": info["known"], "platform": info["platform"],
        "backup_server": info["backup_server"], "backup_server_uid": info["backup_server_uid"], "enabled": info["enabled"],
        "rpo_seconds": info["rpo_seconds"], "rpo_reporting": info["rpo_reporting"], "status": worse(config_status, vms_status),
        "config_status": config_status, "vms_status": vms_status, "vm_counts": vm_counts,
        # own_status: config_status's earlier name, kept for readers of older reports.
        "own_status": config_status, "vms": len(members), "compliant": statuses.count(COMPLIANT),
        "warning": statuses.count(WARNING), "non_compliant": statuses.count(NON_COMPLIANT), "rpo_breaches": len(breaches),
        "worst_breach": {"vm": worst["name"], "worst_gap_seconds": worst["worst_gap_seconds"], "ratio": worst["rpo_ratio"],
                         "tier": worst["rpo_tier"]} if worst else None,
        "findings": findings,
    }


# ----------------------------------------------------------------------------- several EMs

def unreachable_entry(em_host, error, http_status=None):
    """The entry that stands for an EM that could not be audited, in place of its report. With http_status, EM
    answered (with an error): its status is "error", not "unreachable", which is for an EM that did not answer."""
    entry = {"kind": UNREACHABLE_KIND, "em_host": em_host, "status": "error" if http_status else "unreachable",
             "verdict": INCOMPLETE, "error": error}
    if http_status:
        entry["http_status"] = http_status
    return entry


def is_unreachable_entry(item):
    """Whether ``item`` stands for an EM that could not be audited. The one rule, used everywhere:

    a mapping that is not a report (it has no ``vms``) and is one of: an unreachable_entry() (``kind``),
    any entry with ``status: unreachable`` or ``status: error``, a failed Ansible task result (``failed`` true,
    with ``msg``), or an unreachable Ansible result (``unreachable`` true).
    """
    if not isinstance(item, Mapping) or "vms" in item:
        return False
    return (item.get("kind") == UNREACHABLE_KIND or item.get("status") in ("unreachable", "error")
            or (item.get("failed") is True and bool(item.get("msg"))) or item.get("unreachable") is True)


def _http_status(item):
    """EM's HTTP status of an entry whose EM answered with an error (a failed module result carries it as status)."""
    status = item.get("http_status") or item.get("status")
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _unreachable_em(item, index):
    host = text(item.get("em_host") or item.get("host") or (item.get("evidence") or {}).get("em_host") or item.get("item"))
    error = text(item.get("error") or item.get("msg") or item.get("message")) or "EM could not be reached"
    http_status = _http_status(item)
    status = "error" if http_status or item.get("status") == "error" else "unreachable"
    entry = {"em_host": host or "em-%d" % (index + 1), "status": status, "verdict": INCOMPLETE, "error": error, "summary": None}
    if http_status:
        entry["http_status"] = http_status
    return entry


def _checked_entries(reports):
    if isinstance(reports, Mapping) or not hasattr(reports, "__iter__"):
        raise ComplianceConfigError("reports", "expected a list of per-EM reports")
    for index, item in enumerate(reports):
        if not isinstance(item, Mapping):
            raise ComplianceConfigError("reports[%d]" % index, "expected a report dictionary")
        if item.get("kind") == COMBINED_KIND:
            raise ComplianceConfigError("reports[%d]" % index, "combined reports cannot be combined again; pass the per-EM reports")
        if "vms" not in item and not is_unreachable_entry(item):
            raise ComplianceConfigError("reports[%d]" % index, "expected a per-EM report or an unreachable EM entry (status: unreachable)")
        yield index, item


def combine_reports(reports):
    """One report over several EMs, from per-EM reports and unreachable EM entries (is_unreachable_entry)."""
    ems, vms, policies, findings, evidence, issues, windows = [], [], [], [], [], [], []
    verdict = COMPLIANT
    for index, item in _checked_entries(reports):
        if is_unreachable_entry(item):
            entry = _unreachable_em(item, index)
            ems.append(entry)
            verdict = INCOMPLETE
            issues.append("%s:%s" % (entry["status"], entry["em_host"]))
            how = "answered with an error" if entry["status"] == "error" else "was unreachable"
            findings.append(dict(finding("data_sufficiency", "em_%s" % entry["status"], INFO, "EM %s %s: %s" % (
                entry["em_host"], how, entry["error"]), {"error": entry["error"]}), em_host=entry["em_host"]))
            continue
        host = item.get("em_host") or (item.get("evidence") or {}).get("em_host") or "em-%d" % (index + 1)
        data = item.get("data") or {}
        ems.append({"em_host": host, "status": "ok", "verdict": item.get("verdict"), "error": None, "summary": item.get("summary"),
                    "window": item.get("window"), "data": item.get("data")})
        verdict = worse(verdict, item.get("verdict", INCOMPLETE))
        if not data.get("complete", True):
            issues.extend("%s:%s" % (host, issue) for issue in data.get("issues", []))
        windows.append(item.get("window"))
        vms.extend(dict(vm, em_host=host) for vm in item.get("vms", ()))
        policies.extend(dict(policy, em_host=host) for policy in item.get("policies", ()))
        findings.extend(dict(entry, em_host=host) for entry in item.get("findings", ()))
        evidence.append(dict(item.get("evidence") or {}, em_host=host))
    return plain(_combined(INCOMPLETE if issues else verdict, ems, vms, policies, findings, evidence, issues, windows))


def _combined(verdict, ems, vms, policies, findings, evidence, issues, windows):
    severities, waived = count_findings(vms, policies, findings)
    counts = count_statuses(vms)
    generated = format_utc(utcnow())
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": COMBINED_KIND,
        "verdict": verdict,
        "em_host": None,
        "generated_at": generated,
        "window": windows[0] if windows and all(window == windows[0] for window in windows) else None,
        "data": {"complete": not issues, "truncated": any((em.get("data") or {}).get("truncated") for em in ems), "issues": issues},
        "ems": ems,
        "summary": {
            "ems": len(ems), "ems_unreachable": sum(1 for em in ems if em["status"] == "unreachable"),
            "ems_error": sum(1 for em in ems if em["status"] == "error"),
            "vms": len(vms), "compliant": counts[COMPLIANT], "warning": counts[WARNING], "non_compliant": counts[NON_COMPLIANT],
            "rpo_breached": sum(1 for vm in vms if vm.get("rpo_breached")),
            "replication_failed": sum(1 for vm in vms if vm.get("replication_failed")),
            "findings": severities, "waived": waived, "policies": len(policies),
        },
        "findings": findings,
        "vms": vms,
        "policies": policies,
        "evidence": {"generated_at": generated, "reports": evidence},
    }
