# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evaluator end to end: sessions, rules, scope, waivers and window in, the report out (issue 4)."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import ComplianceEvaluator, evaluate
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import SCHEMA_VERSION

NOW = "2025-06-15T00:00:00Z"  # default window: 2025-06-14T00:00:00Z .. NOW


def session(vm, start, end=None, state=None, result="Success", uid=None, reason=None, **extra):
    record = {
        "uid": uid or "urn:veeam:CdpReplicaTaskSession:%s-%s" % (vm, start),
        "name": "%s@%s" % (vm, start),
        "vm_display_name": vm,
        "policy_session_uid": None,
        "policy_session_name": None,
        "backup_server_uid": "urn:veeam:BackupServer:b1",
        "backup_server_name": "backupsrv29.tech.local",
        "creation_time_utc": start,
        "end_time_utc": end,
        "state": state or ("Completed" if end else "InProgress"),
        "result": result,
        "reason": reason,
        "total_size": 1,
        "duration_seconds": None,
        "href": None,
        "links": [],
    }
    record.update(extra)
    return record


def healthy(vm, uid_prefix="s"):
    """Sessions covering the whole default window (8 h each, like CDP); the last one still running."""
    return [
        session(vm, "2025-06-13T20:00:00Z", "2025-06-14T04:00:00.5Z", uid="%s1" % uid_prefix),
        session(vm, "2025-06-14T04:00:01Z", "2025-06-14T12:00:00Z", uid="%s2" % uid_prefix),
        session(vm, "2025-06-14T12:00:00.153Z", "2025-06-14T20:00:00Z", uid="%s3" % uid_prefix),
        session(vm, "2025-06-14T20:00:01Z", None, uid="%s4" % uid_prefix),
    ]


def vm_entry(report, name):
    return next(vm for vm in report["vms"] if vm["name"] == name)


def codes(entry):
    return sorted(finding["code"] for finding in entry["findings"])


def all_codes(entry):
    """The codes of the findings and of those folded into them (one cause, one violation)."""
    return sorted(codes(entry) + [item["code"] for finding in entry["findings"] for item in finding.get("folded", ())])


def test_healthy_vm_is_compliant_and_report_is_plain_json():
    report = evaluate(healthy("vm1"), now=NOW)
    vm = vm_entry(report, "vm1")
    assert report["verdict"] == "compliant"
    assert report["schema_version"] == SCHEMA_VERSION
    assert vm["status"] == "compliant"
    assert vm["coverage_percent"] == 100.0
    assert vm["running"] is True
    assert codes(vm) == ["rpo_unknown"]
    assert report["window"] == {"start": "2025-06-14T00:00:00Z", "end": "2025-06-15T00:00:00Z", "seconds": 86400.0}
    assert json.loads(json.dumps(report)) == report


def test_empty_estate_is_compliant_with_zero_counts():
    report = evaluate([], now=NOW)
    assert report["verdict"] == "compliant"
    assert report["vms"] == []
    assert report["summary"]["vms"] == 0
    assert report["summary"]["findings"] == {"violation": 0, "warning": 0, "info": 0}


def test_gap_between_sessions_is_a_violation_with_evidence():
    records = [
        session("vm1", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z", uid="a"),
        session("vm1", "2025-06-14T18:20:00Z", None, uid="b"),
    ]
    vm = vm_entry(evaluate(records, now=NOW), "vm1")
    gap = next(finding for finding in vm["findings"] if finding["code"] == "gap")
    assert gap["severity"] == "violation"
    assert gap["evidence"]["gaps"] == [{"from": "2025-06-14T18:00:00Z", "to": "2025-06-14T18:20:00Z", "seconds": 1200.0, "before": "a", "after": "b"}]
    assert vm["coverage_percent"] == pytest.approx(100 - 1200 / 864.0, abs=0.01)


def test_gap_at_or_below_max_gap_is_fine():
    records = [
        session("vm1", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z"),
        session("vm1", "2025-06-14T18:15:00Z", None),
    ]
    vm = vm_entry(evaluate(records, now=NOW), "vm1")
    assert "gap" not in codes(vm)
    assert vm["worst_gap_seconds"] == 900.0


def test_gaps_at_window_edges():
    records = [session("vm1", "2025-06-14T01:00:00Z", "2025-06-14T22:00:00Z", uid="only")]
    vm = vm_entry(evaluate(records, now=NOW), "vm1")
    gaps = next(finding for finding in vm["findings"] if finding["code"] == "gap")["evidence"]["gaps"]
    assert [(gap["from"], gap["to"], gap["before"], gap["after"]) for gap in gaps] == [
        ("2025-06-14T00:00:00Z", "2025-06-14T01:00:00Z", None, "only"),
        ("2025-06-14T22:00:00Z", "2025-06-15T00:00:00Z", "only", None),
    ]


def test_sessions_overlapping_window_edges_are_clipped():
    records = [
        session("vm1", "2025-06-10T00:00:00Z", "2025-06-14T12:00:00Z"),
        session("vm1", "2025-06-14T12:00:01Z", "2025-06-16T00:00:00Z"),
    ]
    vm = vm_entry(evaluate(records, now=NOW, window={"start": "2025-06-14T00:00:00Z", "end": "2025-06-14T23:00:00Z"}), "vm1")
    assert vm["coverage_percent"] == 100.0
    assert vm["timeline"] == [[0, 82800]]
    assert "stale" not in codes(vm)


def test_session_before_window_is_the_gap_evidence():
    records = [
        session("vm1", "2025-06-13T10:00:00Z", "2025-06-13T23:30:00Z", uid="old"),
        session("vm1", "2025-06-14T02:00:00Z", None, uid="new"),
    ]
    vm = vm_entry(evaluate(records, now=NOW), "vm1")
    gap = next(finding for finding in vm["findings"] if finding["code"] == "gap")["evidence"]["gaps"][0]
    assert gap["before"] == "old" and gap["after"] == "new" and gap["seconds"] == 7200.0


def test_out_of_order_and_overlapping_sessions_merge():
    ordered = [
        session("vm1", "2025-06-13T22:00:00Z", "2025-06-14T06:00:00Z", uid="a"),
        session("vm1", "2025-06-14T05:00:00Z", "2025-06-14T09:00:00Z", uid="b"),  # overlaps a
        session("vm1", "2025-06-14T09:00:02Z", "2025-06-14T16:00:00Z", uid="c"),  # 2 s hand-over
        session("vm1", "2025-06-14T08:00:00Z", "2025-06-14T08:30:00Z", uid="d"),  # inside b
        session("vm1", "2025-06-14T16:00:00Z", None, uid="e"),
    ]
    shuffled = [ordered[4], ordered[2], ordered[0], ordered[3], ordered[1]]
    first = vm_entry(evaluate(ordered, now=NOW), "vm1")
    second = vm_entry(evaluate(shuffled, now=NOW), "vm1")
    assert first["coverage_percent"] == second["coverage_percent"] == 100.0
    assert first["timeline"] == second["timeline"] == [[0, 86400]]


def test_out_of_order_merge_fills_a_gap_later():
    records = [
        session("vm1", "2025-06-14T16:00:00Z", None, uid="late"),
        session("vm1", "2025-06-14T12:00:00Z", "2025-06-14T16:00:00Z", uid="mid3"),
        session("vm1", "2025-06-13T23:00:00Z", "2025-06-14T04:00:00Z", uid="early"),
        session("vm1", "2025-06-14T08:00:00Z", "2025-06-14T12:00:00Z", uid="mid2"),
        session("vm1", "2025-06-14T04:00:00Z", "2025-06-14T08:00:00Z", uid="mid1"),
    ]
    vm = vm_entry(evaluate(records, now=NOW), "vm1")
    assert vm["coverage_percent"] == 100.0
    assert "gap" not in codes(vm)


def test_failed_and_warning_sessions_keep_reasons():
    records = healthy("vm1") + [
        session("vm1", "2025-06-14T05:00:00Z", "2025-06-14T05:10:00Z", result="Failed", uid="f1", reason="<script>alert(1)</script>"),
        session("vm1", "2025-06-14T06:00:00Z", "2025-06-14T06:10:00Z", result="Warning", uid="w1", reason="slow"),
        session("vm1", "2025-06-14T07:00:00Z", None, state="InProgress", result="Failed", uid="notfinal"),
    ]
    vm = vm_entry(evaluate(records, now=NOW), "vm1")
    failed = next(finding for finding in vm["findings"] if finding["code"] == "replication_failed")
    warned = next(finding for finding in vm["findings"] if finding["code"] == "replication_warning")
    assert failed["severity"] == "violation" and warned["severity"] == "warning"
    assert failed["evidence"]["sessions"][0]["reason"] == "<script>alert(1)</script>"
    assert [item["uid"] for item in failed["evidence"]["sessions"]] == ["f1"]
    assert vm["replication_failed"] is True and vm["status"] == "non_compliant"


def test_warning_only_gives_warning_verdict():
    records = healthy("vm1") + [session("vm1", "2025-06-14T06:00:00Z", "2025-06-14T06:10:00Z", result="Warning", reason="slow")]
    report = evaluate(records, now=NOW)
    assert report["verdict"] == "warning"
    assert vm_entry(report, "vm1")["status"] == "warning"


def test_evidence_lists_are_capped_with_a_count():
    records = healthy("vm1") + [
        session("vm1", "2025-06-14T05:%02d:00Z" % minute, "2025-06-14T05:%02d:30Z" % minute, result="Failed", uid="f%02d" % minute)
        for minute in range(25)
    ]
    failed = next(finding for finding in vm_entry(evaluate(records, now=NOW), "vm1")["findings"] if finding["code"] == "replication_failed")
    assert len(failed["evidence"]["sessions"]) == 20 and failed["evidence"]["more"] == 5
    assert failed["message"].startswith("25 task sessions failed")


def test_stuck_in_progress_and_pending():
    records = [
        session("vm1", "2025-06-14T10:00:00Z", None, state="InProgress", uid="long"),
        session("vm2", "2025-06-13T23:00:00Z", None, state="InProgress", uid="ok"),
        session("vm2", "2025-06-14T23:00:00Z", None, state="Pending", uid="pend"),
        session("vm3", "2025-06-14T23:45:00Z", None, state="Pending", uid="fresh-pending"),
    ]
    report = evaluate(records, now=NOW, rules={"stuck": {"max_task_duration": "9h", "max_pending": "30m"}})
    vm1, vm2, vm3 = (vm_entry(report, name) for name in ("vm1", "vm2", "vm3"))
    stuck = next(finding for finding in vm1["findings"] if finding["code"] == "stuck_in_progress")
    assert stuck["evidence"]["sessions"][0]["uid"] == "long"
    assert stuck["evidence"]["sessions"][0]["running_seconds"] == 14 * 3600
    # A stuck session stops counting as coverage after max_task_duration.
    assert "gap" in codes(vm1)
    assert "stuck_in_progress" in codes(vm2)  # 25 h
    assert "stuck_pending" in codes(vm2)
    assert "stuck_pending" not in codes(vm3)


def test_pending_sessions_do_not_count_as_coverage():
    records = [session("vm1", "2025-06-13T23:00:00Z", "2025-06-14T20:00:00Z"), session("vm1", "2025-06-14T23:50:00Z", None, state="Pending")]
    vm = vm_entry(evaluate(records, now=NOW), "vm1")
    assert vm["running"] is False
    # The trailing gap is evidence of the stale VM (protection stopped at 20:00), folded into it.
    assert "gap" in all_codes(vm) and "stale" in codes(vm)


def test_freshness_protection_stopped():
    records = [session("vm1", "2025-06-13T20:00:00Z", "2025-06-14T22:00:00Z", uid="last")]
    vm = vm_entry(evaluate(records, now=NOW, rules={"freshness": {"max_staleness": "1h"}, "coverage": {"enabled": False}}), "vm1")
    stale = next(finding for finding in vm["findings"] if finding["code"] == "stale")
    assert stale["evidence"]["last_session"] == "last"
    assert stale["evidence"]["age_seconds"] == 7200.0
    fresh = vm_entry(evaluate(records, now=NOW, rules={"freshness": {"max_staleness": "3h"}}), "vm1")
    assert "stale" not in codes(fresh)


def test_expected_vm_without_sessions_is_non_compliant():
    report = evaluate(healthy("vm1"), now=NOW, expected_vms=["vm1", "vm-missing", "db-*"])
    missing = vm_entry(report, "vm-missing")
    pattern = vm_entry(report, "db-*")
    assert missing["status"] == "non_compliant" and missing["in_scope"] is True
    assert "no_sessions" in codes(missing)
    assert pattern["pattern"] is True and codes(pattern) == ["pattern_unmatched"]
    assert vm_entry(report, "vm1")["status"] == "compliant"
    assert report["verdict"] == "non_compliant"


def test_expected_vm_with_sessions_only_before_window():
    records = [session("vm1", "2025-06-12T00:00:00Z", "2025-06-13T00:00:00Z")]
    vm = vm_entry(evaluate(records, now=NOW, expected_vms=["VM1"]), "vm1")
    assert vm["in_scope"] is True
    # One cause, one violation: the whole-window gap and the stale VM are evidence of the missing sessions.
    assert codes(vm) == ["no_sessions"]
    lead = vm["findings"][0]
    assert {"gap", "stale"} <= {item["code"] for item in lead["folded"]}
    assert "2025-06-13T00:00:00Z" in lead["message"] and "protection stopped" not in lead["message"]
    assert vm["last_session_end"] == "2025-06-13T00:00:00Z"


def test_an_expected_vm_never_protected_gives_one_violation_with_the_rest_folded_in():
    report = evaluate(healthy("vm1"), now=NOW, expected_vms=["vm1", "hr-payroll-01"])
    missing = vm_entry(report, "hr-payroll-01")
    assert codes(missing) == ["no_sessions"]
    lead = missing["findings"][0]
    assert lead["message"].startswith("never protected in the audit window")
    assert sorted(item["code"] for item in lead["folded"]) == ["gap", "rpo_unknown", "stale"]
    assert all(set(item) == {"rule", "code", "severity", "message", "evidence"} for item in lead["folded"])
    assert not any("protection stopped" in item["message"] for item in lead["folded"])
    assert report["summary"]["findings"]["violation"] == 1


def test_protection_stopped_is_one_violation_with_the_trailing_gap_folded_in():
    records = [session("vm1", "2025-06-13T20:00:00Z", "2025-06-14T04:00:00Z"), session("vm1", "2025-06-14T04:00:00Z", "2025-06-14T10:00:00Z")]
    vm = vm_entry(evaluate(records, now=NOW, rules={"rpo": {"target": "15m"}}), "vm1")
    assert codes(vm) == ["stale"]
    assert sorted(item["code"] for item in vm["findings"][0]["folded"]) == ["gap", "rpo_breached"]


def test_a_gap_before_protection_stopped_stays_its_own_violation():
    records = [session("vm1", "2025-06-13T20:00:00Z", "2025-06-14T04:00:00Z"), session("vm1", "2025-06-14T06:00:00Z", "2025-06-14T10:00:00Z")]
    vm = vm_entry(evaluate(records, now=NOW, rules={"rpo": {"target": "15m"}}), "vm1")
    assert codes(vm) == ["gap", "stale"]
    assert "folded" not in vm["findings"][0]


def test_a_waiver_of_the_lead_rule_only_does_not_waive_what_is_folded_into_it():
    waivers = [{"vm": "gone", "reason": "r", "expires": "2099-01-01", "rules": ["scope"]}]
    report = evaluate([], now=NOW, expected_vms=["gone"], waivers=waivers)
    assert vm_entry(report, "gone")["status"] == "non_compliant"
    waivers[0]["rules"] = ["scope", "coverage", "freshness"]
    assert vm_entry(evaluate([], now=NOW, expected_vms=["gone"], waivers=waivers), "gone")["status"] == "compliant"


def test_glob_scope_matches_case_insensitively():
    report = evaluate(healthy("Web-01") + healthy("web-02", "t"), now=NOW, expected_vms=["web-*"])
    assert report["summary"]["in_scope"] == 2


def test_waiver_active_expiring_today_and_expired():
    records = [session("vm1", "2025-06-14T01:00:00Z", None)] + [session("vm2", "2025-06-14T01:00:00Z", None)]
    waivers = [
        {"vm": "vm1", "reason": "migration", "expires": "2025-06-15"},  # expires today: still valid all day
        {"vm": "vm2", "reason": "old ticket", "expires": "2025-06-14"},
    ]
    report = evaluate(records, now="2025-06-15T10:00:00Z", window="-34h", waivers=waivers)
    vm1, vm2 = vm_entry(report, "vm1"), vm_entry(report, "vm2")
    gap1 = next(finding for finding in vm1["findings"] if finding["code"] == "gap")
    assert gap1["waived"] is True and gap1["waiver"]["reason"] == "migration"
    assert vm1["status"] == "compliant"
    expired = next(finding for finding in vm2["findings"] if finding["code"] == "waiver_expired")
    assert expired["severity"] == "info" and "2025-06-14" in expired["message"]
    assert vm2["status"] == "non_compliant"
    assert [waiver["status"] for waiver in report["waivers"]] == ["active", "expired"]
    assert report["summary"]["waived"] >= 1


def test_each_vm_says_whether_it_was_expected_and_which_active_waiver_covered_it():
    records = healthy("vm1") + [session("vm2", "2025-06-14T01:00:00Z", None, uid="v2")]
    waivers = [{"vm": "vm2", "reason": "CHG-1", "expires": "2099-12-31", "rules": ["stuck", "coverage", "rpo"]},
               {"vm": "vm1", "reason": "old", "expires": "2025-06-01"}]
    report = evaluate(records, now=NOW, expected_vms=["vm1", "gone", "db-*"], waivers=waivers)
    vm1, vm2, gone, pattern = (vm_entry(report, name) for name in ("vm1", "vm2", "gone", "db-*"))
    assert (vm1["expected"], vm2["expected"], gone["expected"], pattern["expected"]) == (True, False, True, True)
    assert vm1["waiver"] is None and gone["waiver"] is None  # vm1's waiver expired
    assert vm2["waiver"]["reason"] == "CHG-1" and vm2["waiver"]["expires"] == "2099-12-31"
    assert vm2["waiver"]["rules"] == ["coverage", "rpo", "stuck"] and vm2["waiver"]["applied"] >= 1
    assert report["evidence"]["expected_vms"] == ["vm1", "gone", "db-*"]
    assert evaluate(records, now=NOW)["evidence"]["expected_vms"] == []


def test_waiver_with_datetime_expiry_and_rule_list():
    records = [session("vm1", "2025-06-14T01:00:00Z", None), session("vm1", "2025-06-14T02:00:00Z", "2025-06-14T02:01:00Z", result="Failed")]
    waivers = [{"vm": "vm*", "reason": "known", "expires": "2025-06-15T00:00:01Z", "rules": ["failures"]}]
    vm = vm_entry(evaluate(records, now=NOW, waivers=waivers), "vm1")
    by_code = {finding["code"]: finding for finding in vm["findings"]}
    assert by_code["replication_failed"]["waived"] is True
    assert by_code["gap"]["waived"] is False
    gone = vm_entry(evaluate(records, now="2025-06-15T00:00:01Z", waivers=waivers), "vm1")
    assert "waiver_expired" in codes(gone)


def test_truncated_query_makes_verdict_incomplete():
    report = evaluate(healthy("vm1"), now=NOW, truncated=True)
    assert report["verdict"] == "incomplete"
    assert report["data"] == {"complete": False, "truncated": True, "issues": ["truncated"]}
    assert report["evidence"]["truncated"] is True


def test_window_past_thirty_days_is_incomplete():
    report = evaluate(healthy("vm1"), now=NOW, window="-31d")
    assert report["verdict"] == "incomplete"
    assert "window_exceeds_history" in report["data"]["issues"]
    assert evaluate(healthy("vm1"), now=NOW, window="-30d")["data"]["complete"] is True


def test_unparsable_creation_time_is_reported_not_crashing():
    records = healthy("vm1") + [session("vm1", "garbage", None)]
    report = evaluate(records, now=NOW)
    assert report["verdict"] == "incomplete"
    assert "invalid_sessions" in report["data"]["issues"]


def test_fraction_lengths_and_missing_vm_name():
    records = [session("vm1", "2025-06-13T23:00:00.05Z", "2025-06-15T00:00:00.1234567Z"), session("", "2025-06-14T00:00:00Z", None)]
    records[1]["name"] = "fromname@2025-06-14 00:00:00"
    report = evaluate(records, now=NOW)
    assert vm_entry(report, "vm1")["coverage_percent"] == 100.0
    assert vm_entry(report, "fromname")["sessions"] == 1


def test_overrides_most_specific_wins():
    records = [session(name, "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z") for name in ("vm1", "vm2", "db1")]
    records += [session(name, "2025-06-14T18:40:00Z", None) for name in ("vm1", "vm2", "db1")]
    rules = {
        "coverage": {"max_gap": "15m"},
        "overrides": {
            "backup_servers": {"backupsrv29*": {"coverage": {"max_gap": "1h"}}},
            "vms": {"vm*": {"coverage": {"max_gap": "20m"}}, "vm2": {"coverage": {"enabled": False}}},
        },
    }
    report = evaluate(records, now=NOW, rules=rules)
    assert vm_entry(report, "db1")["max_gap_seconds"] == 3600  # server override beats global
    assert "gap" not in codes(vm_entry(report, "db1"))
    assert "gap" in codes(vm_entry(report, "vm1"))  # vm glob beats server
    assert vm_entry(report, "vm1")["max_gap_seconds"] == 1200
    assert "gap" not in codes(vm_entry(report, "vm2"))  # exact name beats glob


def test_switching_rules_off():
    records = [session("vm1", "2025-06-14T05:00:00Z", "2025-06-14T05:10:00Z", result="Failed")]
    rules = {rule: {"enabled": False} for rule in ("coverage", "failures", "stuck", "freshness", "rpo")}
    report = evaluate(records, now=NOW, rules=rules)
    assert report["verdict"] == "compliant"
    assert evaluate(records, now=NOW, rules={"failures": False, "coverage": False, "freshness": False, "rpo": False})["verdict"] == "compliant"


def test_now_accepts_datetime():
    now = datetime.datetime(2025, 6, 15, tzinfo=datetime.timezone.utc)
    assert evaluate([], now=now)["now"] == "2025-06-15T00:00:00Z"


def test_streaming_api_matches_one_shot():
    records = healthy("vm1") + healthy("vm2", "t") + [session("vm3", "2025-06-14T05:00:00Z", "2025-06-14T06:00:00Z", result="Failed")]
    evaluator = ComplianceEvaluator(now=NOW, evidence={"em_host": "em1", "query": "type=CdpReplicaTaskSession"})
    for record in reversed(records):
        evaluator.add_session(record)
    evaluator.mark_truncated(False)
    streamed = evaluator.finish()
    one_shot = evaluate(records, now=NOW, evidence={"em_host": "em1", "query": "type=CdpReplicaTaskSession"})
    for report in (streamed, one_shot):
        report.pop("generated_at")
        report["evidence"].pop("generated_at")
    assert streamed == one_shot
    assert streamed["em_host"] == "em1"
    assert streamed["evidence"]["query"] == "type=CdpReplicaTaskSession"


def test_sessions_are_merged_and_not_kept_as_records():
    evaluator = ComplianceEvaluator(now=NOW)
    records = [session("vm1", "2025-06-14T%02d:00:00Z" % hour, "2025-06-14T%02d:59:59.5Z" % hour) for hour in range(0, 24)]
    for record in records:
        evaluator.add_session(record)
    for record in records:  # the evaluator must not depend on the records after add_session
        record.clear()
    vm = vm_entry(evaluator.finish(), "vm1")
    assert vm["timeline"] == [[0, 86400]]  # 24 sessions with half-second hand-overs: one interval
    assert vm["sessions"] == 24 and vm["coverage_percent"] == 99.99  # the last half second is a gap
