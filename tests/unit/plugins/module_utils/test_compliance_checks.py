# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each rule as a pure function: small facts and the rule's settings in, findings out."""

from __future__ import annotations

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import compliance_checks as checks
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_config import normalize_rules
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_coverage import (
    FlaggedSession,
    Interval,
    VmState,
    Window,
    coverage,
)

DAY = 86400.0
WINDOW = Window(0.0, DAY, DAY)
RULES = normalize_rules()["rules"]


def settings(rule, **changes):
    return dict(RULES[rule], **changes)


def facts(intervals=((0.0, DAY),), vm="state", in_scope=False, in_window=1, running_now=False, policy=None, session=None,
          rpo=None, max_gap=900.0, stuck_running=(), stuck_pending=(), **state):
    if vm == "state":
        vm = VmState()
        vm.sessions = 1
        for key, value in state.items():
            setattr(vm, key, value)
    cover = coverage([Interval(start, end, "a%d" % index, "z%d" % index) for index, (start, end) in enumerate(intervals)], WINDOW)
    return checks.VmFacts(vm, in_scope, in_window, cover, running_now, list(stuck_running), list(stuck_pending), policy, session,
                          rpo, max_gap, "default", WINDOW)


def codes(findings):
    return [item["code"] for item in findings]


def policy(enabled=True, known=True, rpo=15.0, warning=True, error=True):
    return {"uid": "p1", "name": "Gold", "known": known, "enabled": enabled, "rpo_seconds": rpo,
            "rpo_reporting": {"warning": {"enabled": warning, "threshold_seconds": 30.0}, "error": {"enabled": error, "threshold_seconds": 60.0}}}


def test_scope_only_for_expected_vms_without_sessions_in_the_window():
    assert codes(checks.check_scope(facts(in_scope=True, in_window=0, last_end=3600.0, last_end_uid="old"), settings("scope"))) == ["no_sessions"]
    found = checks.check_scope(facts(in_scope=True, in_window=0, vm=None), settings("scope"))[0]
    assert found["severity"] == "violation" and found["evidence"] == {"last_session_end": None, "last_session": None}
    assert checks.check_scope(facts(in_scope=True, in_window=1), settings("scope")) == []
    assert checks.check_scope(facts(in_scope=False, in_window=0), settings("scope")) == []
    assert checks.check_scope(facts(in_scope=True, in_window=0), settings("scope", enabled=False)) == []
    assert codes(checks.check_unmatched_pattern("db-*", settings("scope"))) == ["pattern_unmatched"]
    assert checks.check_unmatched_pattern("db-*", settings("scope", enabled=False)) == []


def test_coverage_reports_only_gaps_over_the_threshold():
    both = facts(intervals=((0.0, 1000.0), (1900.0, 5000.0), (7000.0, DAY)), max_gap=900.0)
    found = checks.check_coverage(both, settings("coverage"))
    assert codes(found) == ["gap"]
    assert [(gap["seconds"], gap["before"], gap["after"]) for gap in found[0]["evidence"]["gaps"]] == [(2000.0, "z1", "a2")]
    assert found[0]["message"].startswith("1 gap longer than 15m")
    assert checks.check_coverage(facts(intervals=((0.0, 1000.0), (1900.0, DAY))), settings("coverage")) == []  # exactly 900 s
    assert checks.check_coverage(both, settings("coverage", enabled=False)) == []


@pytest.mark.parametrize("gap, tier, severity", [(1500.0, "minor", "warning"), (3000.0, "major", "violation"), (5000.0, "critical", "violation")])
def test_rpo_breach_tiers(gap, tier, severity):
    found = checks.check_rpo(facts(intervals=((0.0, 1000.0), (1000.0 + gap, DAY)), rpo=15.0, policy=policy()), settings("rpo"))
    assert codes(found) == ["rpo_breached"]
    assert (found[0]["evidence"]["tier"], found[0]["severity"], found[0]["evidence"]["cause"]) == (tier, severity, "gap")
    assert found[0]["evidence"]["threshold_seconds"] == 915.0


def test_rpo_unknown_and_within_threshold_and_switched_off():
    unknown = checks.check_rpo(facts(rpo=None, policy=policy(rpo=None)), settings("rpo"))
    assert codes(unknown) == ["rpo_unknown"] and unknown[0]["severity"] == "info" and "Gold" in unknown[0]["message"]
    assert "no CDP policy" in checks.check_rpo(facts(rpo=None), settings("rpo"))[0]["message"]
    assert checks.check_rpo(facts(intervals=((0.0, 1000.0), (1900.0, DAY)), rpo=15.0), settings("rpo")) == []
    assert checks.check_rpo(facts(intervals=(), rpo=15.0), settings("rpo", enabled=False)) == []
    assert checks.rpo_assessment(1830.0, 15.0, 900.0) == (2.0, "minor")
    assert checks.rpo_assessment(900.0, 0.0, 900.0) == (1.0, None)


@pytest.mark.parametrize("kwargs, cause", [
    ({"vm": None}, "never_started"),
    ({"policy": policy(enabled=False)}, "policy_disabled"),
    ({"session": {"state": "Stopping"}}, "policy_session_stopping"),
    ({"in_window": 0}, "no_sessions_in_window"),
    ({}, "gap"),
])
def test_breach_cause(kwargs, cause):
    assert checks.breach_cause(facts(**kwargs)) == cause


def test_gap_threshold_sources():
    coverage_rule, rpo_rule = settings("coverage"), settings("rpo")
    assert checks.gap_threshold(coverage_rule, rpo_rule, 15.0) == (15.0, 915.0, "policy_rpo")
    assert checks.gap_threshold(coverage_rule, rpo_rule, None) == (None, 900.0, "default")
    assert checks.gap_threshold(dict(coverage_rule, max_gap=60.0), rpo_rule, 15.0) == (15.0, 60.0, "configured")
    assert checks.gap_threshold(coverage_rule, dict(rpo_rule, target=120.0), 15.0) == (120.0, 1020.0, "policy_rpo")


def test_failures_each_session_once_oldest_first_with_reasons():
    flagged = [FlaggedSession("Failed", "f2", "2025-06-14T02:00:00Z", "2025-06-14T02:01:00Z", "disk full"),
               FlaggedSession("Failed", "f1", "2025-06-14T01:00:00Z", "2025-06-14T01:01:00Z", " "),
               FlaggedSession("Failed", "f1", "2025-06-14T01:00:00Z", "2025-06-14T01:01:00Z", " "),
               FlaggedSession("Warning", "w1", "2025-06-14T03:00:00Z", "2025-06-14T03:01:00Z", None)]
    found = checks.check_failures(facts(flagged=flagged), settings("failures", warning_severity="info"))
    assert codes(found) == ["replication_failed", "replication_warning"]
    assert [entry["uid"] for entry in found[0]["evidence"]["sessions"]] == ["f1", "f2"]
    assert found[0]["message"] == "2 task sessions failed: disk full" and found[0]["evidence"]["sessions"][0]["reason"] is None
    assert found[1]["severity"] == "info"
    assert checks.check_failures(facts(flagged=flagged), settings("failures", enabled=False)) == []
    assert checks.check_failures(facts(vm=None), settings("failures")) == []


def test_stuck_lists_open_sessions_over_the_limits():
    running = [{"uid": "r%d" % index, "creation_time_utc": None, "running_seconds": 40000.0} for index in range(22)]
    found = checks.check_stuck(facts(stuck_running=running, stuck_pending=[{"uid": "p"}]), settings("stuck"))
    assert codes(found) == ["stuck_in_progress", "stuck_pending"]
    assert len(found[0]["evidence"]["sessions"]) == 20 and found[0]["evidence"]["more"] == 2
    assert found[0]["evidence"]["limit_seconds"] == 9 * 3600.0 and "longer than 9h" in found[0]["message"]
    assert checks.check_stuck(facts(stuck_running=running), settings("stuck", enabled=False)) == []


def test_freshness():
    stale = checks.check_freshness(facts(last_end=DAY - 7200.0, last_end_uid="last"), settings("freshness"))
    assert codes(stale) == ["stale"] and stale[0]["evidence"]["age_seconds"] == 7200.0
    never = checks.check_freshness(facts(vm=None), settings("freshness"))[0]["message"]
    assert "none ended" in never and "protection stopped" not in never
    assert checks.check_freshness(facts(last_end=DAY - 3600.0), settings("freshness")) == []
    assert checks.check_freshness(facts(running_now=True), settings("freshness")) == []
    assert checks.check_freshness(facts(running_at_end=True), settings("freshness")) == []
    assert checks.check_freshness(facts(), settings("freshness", enabled=False)) == []


def test_invalid_sessions_of_a_vm():
    assert codes(checks.check_invalid_sessions(facts(invalid=2), settings("data_sufficiency"))) == ["invalid_sessions"]
    assert checks.check_invalid_sessions(facts(), settings("data_sufficiency")) == []


def test_vm_checks_cover_every_vm_rule_in_order():
    assert [rule for rule, _check in checks.VM_CHECKS][:6] == ["scope", "coverage", "rpo", "failures", "stuck", "freshness"]


def test_policy_config_findings():
    sessions = [{"uid": "s1", "name": "Gold@1", "state": "Stopped", "result": "Failed", "creation_time_utc": "1970-01-01T01:00:00Z",
                 "end_time_utc": "1970-01-01T02:00:00Z", "failure_message": "proxy"},
                {"uid": "s0", "name": "Gold@0", "state": "Stopped", "result": "Warning", "creation_time_utc": "1970-01-01T00:30:00Z",
                 "end_time_utc": None, "failure_message": None},
                {"uid": "old", "name": "Gold@old", "state": "Stopped", "result": "Failed", "creation_time_utc": "1969-12-30T00:00:00Z",
                 "end_time_utc": "1969-12-30T01:00:00Z", "failure_message": "old"}]
    found = checks.check_policy_config(policy(enabled=False, warning=False), sessions, settings("policy_config"), WINDOW)
    assert codes(found) == ["policy_disabled", "rpo_warning_reporting_off", "policy_session_failed"]
    assert [item["uid"] for item in found[-1]["evidence"]["sessions"]] == ["s1"] and found[-1]["message"].endswith(": proxy")
    unknown = checks.check_policy_config(policy(known=False, rpo=None, warning=None, error=None), [], settings("policy_config"), WINDOW)
    assert codes(unknown) == ["policy_not_found"]
    silent = checks.check_policy_config(policy(rpo=None, warning=None, error=None), [], settings("policy_config"), WINDOW)
    assert codes(silent) == ["rpo_reporting_unknown", "rpo_unknown"]
    assert checks.check_policy_config(policy(enabled=False), sessions, settings("policy_config", enabled=False), WINDOW) == []


def test_data_sufficiency():
    findings, issues = checks.check_data_sufficiency(True, 3, Window(-40 * DAY, 2 * DAY, DAY), settings("data_sufficiency"))
    assert issues == ["truncated", "window_exceeds_history", "window_in_future", "invalid_sessions"] == codes(findings)
    assert all(item["severity"] == "info" for item in findings)
    assert checks.check_data_sufficiency(False, 0, WINDOW, settings("data_sufficiency")) == ([], [])
    assert checks.check_data_sufficiency(True, 1, WINDOW, settings("data_sufficiency", enabled=False)) == ([], [])


def test_apply_waivers():
    waivers = [{"target": "vm", "pattern": "web*", "reason": "old", "expires": "2000-01-01", "expires_at": 0.0, "rules": None},
               {"target": "vm", "pattern": "WEB01", "reason": "migration", "expires": "2099-01-01", "expires_at": 4e9, "rules": ["coverage"]},
               {"target": "policy", "pattern": "web01", "reason": "other target", "expires": "2099-01-01", "expires_at": 4e9, "rules": None}]
    findings = [checks.finding("coverage", "gap", "violation", "m"), checks.finding("failures", "replication_failed", "violation", "m"),
                checks.finding("rpo", "rpo_unknown", "info", "m")]
    active, applied = checks.apply_waivers(findings, waivers, "vm", "web01", DAY)
    assert active is waivers[1] and applied == 1
    assert [item["waived"] for item in findings[:3]] == [True, False, False]
    assert findings[0]["waiver"]["reason"] == "migration"
    assert codes(findings[3:]) == ["waiver_expired"]
    assert checks.apply_waivers([], waivers, "vm", "db01", DAY) == (None, 0)
