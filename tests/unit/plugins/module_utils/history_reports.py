# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small audit reports for the history tests, shaped like ComplianceEvaluator.finish() output."""

from __future__ import annotations

import datetime

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import audit_scope
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.timeutil import format_utc, parse_iso

EM = "https://em.example.com:9398"
SCOPE = audit_scope([EM], {"expected_vms": ["db-*"]})
SEVERITY_STATUS = {"violation": "non_compliant", "warning": "warning"}


def finding(rule, code, severity="violation", waived=False):
    return {"rule": rule, "code": code, "severity": severity, "message": "%s %s" % (rule, code), "evidence": {}, "waived": waived}


def status_of(findings):
    statuses = [SEVERITY_STATUS.get(item["severity"]) for item in findings if not item["waived"]]
    if "non_compliant" in statuses:
        return "non_compliant"
    return "warning" if "warning" in statuses else "compliant"


def report(now, vms, policies=None, window_hours=24):
    """vms: {name: [finding, ...]}; policies: {uid: (name, [finding, ...])}. ``now`` is ISO or a datetime."""
    end = parse_iso(now) if isinstance(now, str) else now
    start = end - datetime.timedelta(hours=window_hours)
    vm_entries = [{"name": name, "status": status_of(items), "in_scope": True, "policy": "cdp-gold", "coverage_percent": 100.0 if not items else 80.0,
                   "worst_gap_seconds": 0.0 if not items else 3600.0, "rpo_seconds": 15.0, "rpo_breached": bool(items), "findings": items}
                  for name, items in sorted(vms.items())]
    policy_entries = [{"uid": uid, "name": name, "status": status_of(items), "rpo_seconds": 15.0, "rpo_breaches": 0, "worst_breach": None,
                       "findings": items} for uid, (name, items) in sorted((policies or {}).items())]
    statuses = [entry["status"] for entry in vm_entries + policy_entries]
    verdict = "non_compliant" if "non_compliant" in statuses else ("warning" if "warning" in statuses else "compliant")
    return {"schema_version": 1, "kind": "cdp_compliance_report", "verdict": verdict, "em_host": EM, "generated_at": format_utc(end),
            "now": format_utc(end), "window": {"start": format_utc(start), "end": format_utc(end), "seconds": window_hours * 3600.0},
            "data": {"complete": True, "truncated": False, "issues": []}, "summary": {"vms": len(vm_entries)}, "findings": [],
            "vms": vm_entries, "policies": policy_entries, "waivers": [],
            "evidence": {"em_host": EM, "collection_version": "0.1.0", "window": {"start": format_utc(start), "end": format_utc(end)}}}


def day(offset, base="2026-09-01T06:00:00Z"):
    return format_utc(parse_iso(base) + datetime.timedelta(days=offset))
