# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift between audits of the same scope, through the store as the modules use it."""

from __future__ import annotations

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import audit_scope, drift_counts, record_audit
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.history_reports import EM, SCOPE, day, finding, report
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_compliance import healthy, session

POLICY = "urn:veeam:CdpPolicy:1"


def brief(entries):
    return [(entry.get("vm") or entry.get("policy"), entry.get("rule"), entry.get("code")) for entry in entries]


def test_first_audit_has_empty_drift(tmp_path):
    result = record_audit(str(tmp_path / "h.db"), report(day(0), {"db-01": [finding("coverage", "gap")]}), SCOPE)
    assert result["drift"] == {"previous_audit": None, "new": [], "resolved": [], "persisting": [], "appeared": [], "disappeared": []}
    assert drift_counts(result["drift"]) == {"new": 0, "resolved": 0, "persisting": 0, "appeared": 0, "disappeared": 0}


def test_two_audits_with_a_change(tmp_path):
    store = str(tmp_path / "h.db")
    first = record_audit(store, report(day(0), {
        "db-01": [finding("coverage", "gap")],
        "db-02": [finding("rpo", "rpo_breach", "warning")],
        "db-03": [],
        "db-old": [finding("freshness", "stale")],
    }, {POLICY: ("cdp-gold", [finding("policy_config", "disabled", "warning")])}), SCOPE)
    second = record_audit(store, report(day(1), {
        "db-01": [finding("coverage", "gap")],
        "db-02": [],
        "db-03": [finding("freshness", "stale")],
        "db-new": [finding("scope", "no_sessions")],
    }, {POLICY: ("cdp-gold", [])}), SCOPE)
    result = second["drift"]
    assert result["previous_audit"] == {"id": first["history"]["audit_id"], "audited_at": day(0), "verdict": "non_compliant",
                                        "evidence_sha256": first["history"]["evidence_sha256"], "window": {"start": day(-1), "end": day(0)}}
    assert brief(result["new"]) == [("db-03", "freshness", "stale"), ("db-new", "scope", "no_sessions")]
    assert brief(result["persisting"]) == [("db-01", "coverage", "gap")]
    # db-old left the scope: its finding is not resolved, the VM is listed as disappeared.
    assert brief(result["resolved"]) == [("db-02", "rpo", "rpo_breach"), ("cdp-gold", "policy_config", "disabled")]
    assert result["resolved"][1]["policy_uid"] == POLICY and result["resolved"][0]["severity"] == "warning"
    assert result["appeared"] == [{"vm": "db-new"}]
    assert result["disappeared"] == [{"vm": "db-old"}]
    assert drift_counts(result) == {"new": 2, "resolved": 2, "persisting": 1, "appeared": 1, "disappeared": 1}


def test_waived_findings_are_neither_new_nor_resolved(tmp_path):
    store = str(tmp_path / "h.db")
    record_audit(store, report(day(0), {"db-01": [finding("coverage", "gap")], "db-02": [finding("stuck", "stuck", waived=True)]}), SCOPE)
    result = record_audit(store, report(day(1), {"db-01": [finding("coverage", "gap", waived=True)], "db-02": [finding("stuck", "stuck")]}),
                          SCOPE)["drift"]
    assert result["resolved"] == [] and result["persisting"] == []
    # The waiver of db-02 expired: its finding counts again, as new.
    assert brief(result["new"]) == [("db-02", "stuck", "stuck")]


def test_only_audits_of_the_same_scope_are_compared(tmp_path):
    store = str(tmp_path / "h.db")
    record_audit(store, report(day(0), {"db-01": [finding("coverage", "gap")]}), SCOPE)
    other_vms = audit_scope([EM], {"expected_vms": ["web-*"]})
    other_em = audit_scope(["https://em2.example.com:9398"], {"expected_vms": ["db-*"]})
    filtered = audit_scope([EM], {"expected_vms": ["db-*"], "vm_display_name": "db-01"})
    for scope in (other_vms, other_em, filtered):
        assert record_audit(store, report(day(1), {"db-01": []}), scope)["drift"]["previous_audit"] is None
    # Order and duplicates of list options do not make another scope.
    assert audit_scope([EM, EM], {"vm_display_name": ["b", "a", "a"]}) == audit_scope([EM], {"vm_display_name": "a,b"})


def test_previous_is_the_latest_audit_evaluated_earlier(tmp_path):
    store = str(tmp_path / "h.db")
    first = record_audit(store, report(day(0), {"db-01": []}), SCOPE)
    third = record_audit(store, report(day(2), {"db-01": []}), SCOPE)
    # A reproducible audit of an earlier day, run later, compares with the audit before it, not the newest one.
    second = record_audit(store, report(day(1), {"db-01": []}), SCOPE)
    assert third["drift"]["previous_audit"]["id"] == first["history"]["audit_id"]
    assert second["drift"]["previous_audit"]["id"] == first["history"]["audit_id"]
    assert record_audit(store, report(day(3), {"db-01": []}), SCOPE)["drift"]["previous_audit"]["id"] == third["history"]["audit_id"]


def test_drift_of_engine_reports(tmp_path):
    store = str(tmp_path / "h.db")
    scope = audit_scope([EM], {})
    day_one = evaluate(healthy("vm1") + [session("vm2", "2025-06-14T01:00:00Z", "2025-06-14T02:00:00Z", uid="x")], now="2025-06-15T00:00:00Z")
    day_two = evaluate(healthy("vm2", "t"), now="2025-06-15T00:00:00Z")
    day_two["now"] = "2025-06-16T00:00:00Z"  # same sessions, evaluated a day later
    record_audit(store, day_one, scope)
    result = record_audit(store, day_two, scope)["drift"]
    assert ("vm2", "coverage", "gap") in brief(result["resolved"]) and ("vm2", "freshness", "stale") in brief(result["resolved"])
    assert ("vm2", "rpo", "rpo_unknown") in brief(result["persisting"])
    assert result["disappeared"] == [{"vm": "vm1"}] and result["appeared"] == [] and result["new"] == []
