# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports for the renderer and report-writer tests, with hostile values wherever EM supplies text."""

from __future__ import annotations

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate

NOW = "2025-06-15T00:00:00Z"
HOSTILE = "<script>alert('x')</script>|*_`[a](b)&\x01"
# Everything a renderer must neutralise: markup, both quotes, a CDATA end, control characters, a lone surrogate.
NASTY = "<script>alert(\"x\")</script>'\"]]>&amp;\x00\x07\x1b\ud800 |*_`#~[a](javascript:b)\nnext line"


def session(vm, start, end=None, result="Success", reason=None, uid=None):
    return {"uid": uid or "u-%s-%s" % (vm, start), "name": vm, "vm_display_name": vm, "policy_session_uid": "ps1",
            "policy_session_name": None, "backup_server_uid": None, "backup_server_name": "srv<1>", "creation_time_utc": start,
            "end_time_utc": end, "state": "Completed" if end else "InProgress", "result": result, "reason": reason,
            "total_size": None, "duration_seconds": None, "href": None, "links": []}


def sample_report(em_host="em1.example", truncated=False, hostile=HOSTILE):
    records = [
        session("good", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z"), session("good", "2025-06-14T18:00:00Z"),
        session(hostile, "2025-06-14T02:00:00Z", "2025-06-14T03:00:00Z", result="Failed", reason=hostile),
        session("warn", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z", result="Warning", reason="slow"),
        session("warn", "2025-06-14T18:00:00Z"),
    ]
    policies = [{"uid": "p1", "name": "Gold" + hostile, "policy_schedule_options": {"recovery_point_objective_seconds": 15},
                 "schedule_enabled": False}]
    policy_sessions = [{"uid": "ps1", "policy_uid": "p1", "policy_name": "Gold", "state": "Stopped", "result": "Failed",
                        "failure_message": hostile, "creation_time_utc": "2025-06-14T01:00:00Z", "end_time_utc": "2025-06-14T02:00:00Z"}]
    return evaluate(records, now=NOW, policies=policies, policy_sessions=policy_sessions, truncated=truncated,
                    waivers=[{"vm": "warn", "reason": "tuning <b>", "expires": "2099-01-01"}],
                    evidence={"em_host": em_host, "api_version": "v1_7", "collection_version": "0.1.0",
                              "query": "type=CdpReplicaTaskSession&filter=CreationTimeUTC>=\"2025-06-14T00:00:00Z\""})


def second_report(em_host="em2"):
    """A small compliant report of another EM."""
    return evaluate([session("x", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z"), session("x", "2025-06-14T18:00:00Z")], now=NOW,
                    evidence={"em_host": em_host})


# Control characters EM may send: NUL, BS, ESC, DEL and a C1 control (NEL).
CONTROLS = "\x00\x08\x1b\x7f\x85"


def contract_report(em_host="em1.example"):
    """sample_report with every field of the engine/report contract: expected scope, per-VM expected and waiver,
    the policy split, provenance, policy data availability, drift and trends."""
    report = sample_report(em_host)
    report["evidence"].update({
        "expected_vms": ["good", "hr-payroll-*"], "em_version": "12.3.1.1139", "em_build": "12.3.1.1139 P20250115",
        "api_version": "v1_8_Rev0", "controller": "awx-ee-7", "awx_job": {"id": 4711, "template": "CDP audit", "launched_by": "auditor"},
        "title": "Q2 CDP audit", "period": "2025-Q2", "policy_data": {"available": False, "error": {"status": 403, "message": "Forbidden"}},
    })
    for vm in report["vms"]:
        vm["expected"] = vm["name"] == "good"
        vm["waiver"] = {"reason": "tuning <b>", "expires": "2099-01-01", "rules": ["failures"]} if vm["name"] == "warn" else None
    hostile = next(vm for vm in report["vms"] if vm["name"] not in ("good", "warn"))
    gap = next(finding for finding in hostile["findings"] if finding["rule"] == "coverage")
    gap["folded"] = [{"rule": "freshness", "code": "stale", "message": "no session <since> the gap"}]
    for policy in report["policies"]:
        policy.update(config_status="non_compliant", vms_status="warning", vm_counts={"compliant": 2, "warning": 1, "non_compliant": 0})
    report["drift"] = {"previous_audit": {"id": "a1"}, "resolved": [], "persisting": [],
                       "new": [{"vm": "warn", "rule": "failures", "code": "replication_warning", "severity": "warning", "message": "slow <1>"}],
                       "appeared": [], "disappeared": [{"vm": "old"}]}
    report["trends"] = {"days": 90, "since": "2025-03-17T00:00:00Z", "until": "2025-06-15T00:00:00Z", "audits": 90, "vms": [
        {"vm": "good", "compliant_percent": 100.0, "compliant_time_percent": 100.0, "longest_non_compliant_streak": None},
        {"vm": "warn", "audits": 90, "compliant_percent": 80.0, "compliant_time_percent": 75.5,
         "longest_non_compliant_streak": {"audits": 3, "seconds": 259200.0},
         "current": {"status": "warning", "since": "2025-06-10T00:00:00Z"}},
    ]}
    return report


def report_without_scope_fields(em_host="em1.example"):
    """A report as 0.1.0 wrote it: no per-VM expected/waiver fields."""
    report = sample_report(em_host)
    for vm in report["vms"]:
        vm.pop("expected", None)
        vm.pop("waiver", None)
    return report
