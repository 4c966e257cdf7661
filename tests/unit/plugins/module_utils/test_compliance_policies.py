# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy-aware compliance through the evaluator (issue 8): joins, RPO thresholds, breach tiers, policy findings."""

from __future__ import annotations

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate

NOW = "2025-06-15T00:00:00Z"


def session(vm, start, end=None, result="Success", policy_session="ps1", uid=None, state=None):
    return {
        "uid": uid or "t-%s-%s" % (vm, start), "name": "%s@%s" % (vm, start), "vm_display_name": vm,
        "policy_session_uid": policy_session, "policy_session_name": "Gold@2025-06-14 00:00:00",
        "backup_server_uid": None, "backup_server_name": None, "creation_time_utc": start, "end_time_utc": end,
        "state": state or ("Completed" if end else "InProgress"), "result": result, "reason": None, "total_size": 1,
        "duration_seconds": None, "href": None, "links": [],
    }


def policy(uid="p1", name="Gold", rpo_seconds=15, rpo_minutes=0, warning=True, failed=True, enabled=True, **extra):
    record = {
        "uid": uid, "name": name, "policy_type": "CdpReplica", "platform": "VMware", "description": None,
        "schedule_configured": True, "schedule_enabled": enabled, "next_run": None,
        "policy_schedule_options": {"cdp_replica": {
            "recovery_point_objective_seconds": rpo_seconds, "recovery_point_objective_minutes": rpo_minutes,
            "rpo_reporting": {
                "mark_as_warning": {"enabled": warning, "rpo_threshold_seconds": 2, "rpo_threshold_minutes": 0},
                "mark_as_failed": {"enabled": failed, "rpo_threshold_seconds": 0, "rpo_threshold_minutes": 1},
            },
        }},
        "cdp_policy_info": {"cdp_replica_policy_info": {"includes": [{"name": "listed-vm", "display_name": "listed-vm",
                                                                      "hierarchy_obj_ref": "x"}]}},
        "links": [{"rel": "Up", "type": "BackupServerReference", "href": "https://em:9398/api/backupServers/beda8585", "name": "backupsrv29"}],
    }
    record.update(extra)
    return record


def policy_session(uid="ps1", policy_uid="p1", name="Gold", state="Working", result="None", failure_message=None,
                   start="2025-06-14T00:00:00Z", end=None):
    return {"uid": uid, "name": "%s@x" % name, "policy_uid": policy_uid, "policy_name": name, "policy_type": "CdpReplica",
            "creation_time_utc": start, "end_time_utc": end, "state": state, "result": result, "progress": 0,
            "failure_message": failure_message, "is_retry": False, "links": []}


def covered(vm, gap=None, **kwargs):
    """Sessions covering the window, optionally with a gap (start, end) between two of them."""
    if gap is None:
        return [session(vm, "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z", **kwargs), session(vm, "2025-06-14T18:00:00Z", None, **kwargs)]
    return [session(vm, "2025-06-13T23:00:00Z", gap[0], **kwargs), session(vm, gap[1], "2025-06-14T20:00:00Z", **kwargs),
            session(vm, "2025-06-14T20:00:00Z", None, **kwargs)]


def vm_entry(report, name):
    return next(vm for vm in report["vms"] if vm["name"] == name)


def finding(entry, code):
    return next(item for item in entry["findings"] if item["code"] == code)


def codes(entry):
    return sorted(item["code"] for item in entry["findings"])


def folded(entry, code):
    """A finding folded into the VM's root-cause finding (one cause, one violation)."""
    return next(item for lead in entry["findings"] for item in lead.get("folded", ()) if item["code"] == code)


def test_join_gives_policy_name_rpo_and_backup_server():
    report = evaluate(covered("vm1"), now=NOW, policies=[policy()], policy_sessions=[policy_session()])
    vm = vm_entry(report, "vm1")
    assert (vm["policy"], vm["policy_uid"], vm["rpo_seconds"]) == ("Gold", "p1", 15.0)
    assert vm["backup_server"] == "backupsrv29" and vm["backup_server_uid"] == "urn:veeam:BackupServer:beda8585"
    assert vm["max_gap_source"] == "policy_rpo" and vm["max_gap_seconds"] == 915.0
    assert vm["status"] == "compliant"
    assert report["evidence"]["policies"][0]["rpo_seconds"] == 15.0
    pol = report["policies"][0]
    assert (pol["name"], pol["vms"], pol["compliant"], pol["worst_breach"]) == ("Gold", 1, 1, None)


def test_join_falls_back_to_policy_session_name_without_policy_sessions():
    vm = vm_entry(evaluate(covered("vm1"), now=NOW, policies=[policy()]), "vm1")
    assert vm["policy"] == "Gold" and vm["rpo_seconds"] == 15.0


def test_policy_rpo_drives_max_gap_and_explicit_override_wins():
    pols = [policy(rpo_seconds=0, rpo_minutes=60)]
    records = covered("vm1", gap=("2025-06-14T10:00:00Z", "2025-06-14T11:00:00Z"))
    vm = vm_entry(evaluate(records, now=NOW, policies=pols, policy_sessions=[policy_session()]), "vm1")
    assert vm["max_gap_seconds"] == 4500.0 and "gap" not in codes(vm) and not vm["rpo_breached"]
    explicit = vm_entry(evaluate(records, now=NOW, policies=pols, policy_sessions=[policy_session()],
                                 rules={"overrides": {"policies": {"Gold": {"coverage": {"max_gap": "30m"}}}}}), "vm1")
    assert explicit["max_gap_source"] == "configured" and "gap" in codes(explicit)
    assert not explicit["rpo_breached"]  # the RPO (plus lag) still holds


@pytest.mark.parametrize("gap_minutes, tier, severity", [(25, "minor", "warning"), (50, "major", "violation"), (90, "critical", "violation")])
def test_rpo_breach_tiers(gap_minutes, tier, severity):
    # RPO 15 s + 15 m lag = 915 s; 25 m = 1.6x, 50 m = 3.3x, 90 m = 5.9x.
    records = covered("vm1", gap=("2025-06-14T10:00:00Z", "2025-06-14T%02d:%02d:00Z" % (10 + gap_minutes // 60, gap_minutes % 60)))
    vm = vm_entry(evaluate(records, now=NOW, policies=[policy()], policy_sessions=[policy_session()]), "vm1")
    breach = finding(vm, "rpo_breached")
    assert breach["rule"] == "rpo" and breach["evidence"]["tier"] == tier and breach["severity"] == severity
    assert breach["evidence"]["threshold_seconds"] == 915.0 and breach["evidence"]["cause"] == "gap"
    assert vm["rpo_breached"] is True and vm["replication_failed"] is False


def test_rpo_tier_severity_is_configurable():
    records = covered("vm1", gap=("2025-06-14T10:00:00Z", "2025-06-14T10:25:00Z"))
    vm = vm_entry(evaluate(records, now=NOW, policies=[policy()], policy_sessions=[policy_session()],
                           rules={"rpo": {"minor_severity": "violation"}}), "vm1")
    assert finding(vm, "rpo_breached")["severity"] == "violation"


def test_failed_without_rpo_breach_and_breach_without_failure_are_separate():
    failed = covered("vm1") + [session("vm1", "2025-06-14T05:00:00Z", "2025-06-14T05:01:00Z", result="Failed")]
    breached = covered("vm2", gap=("2025-06-14T10:00:00Z", "2025-06-14T12:00:00Z"))
    report = evaluate(failed + breached, now=NOW, policies=[policy()], policy_sessions=[policy_session()])
    vm1, vm2 = vm_entry(report, "vm1"), vm_entry(report, "vm2")
    assert vm1["replication_failed"] and not vm1["rpo_breached"]
    assert vm2["rpo_breached"] and not vm2["replication_failed"]
    assert report["summary"]["rpo_breached"] == 1 and report["summary"]["replication_failed"] == 1
    assert report["policies"][0]["worst_breach"]["vm"] == "vm2"


def test_breach_cause_stopped_policy_session_and_never_started():
    records = [session("vm1", "2025-06-13T23:00:00Z", "2025-06-14T06:00:00Z", policy_session="ps9")]
    sessions = [policy_session(uid="ps9", state="Stopped", result="Success", end="2025-06-14T06:00:00Z")]
    report = evaluate(records, now=NOW, policies=[policy()], policy_sessions=sessions, expected_vms=["listed-vm"])
    stopped = vm_entry(report, "vm1")
    # Protection stopped with the policy session: one violation (stale) naming the cause, the RPO breach folded in.
    assert codes(stopped) == ["stale"] and finding(stopped, "stale")["evidence"]["cause"] == "policy_session_stopped"
    assert "cause: policy session stopped" in finding(stopped, "stale")["message"]
    assert folded(stopped, "rpo_breached")["evidence"]["cause"] == "policy_session_stopped"
    never = vm_entry(report, "listed-vm")  # no sessions: policy found through the policy includes
    assert never["policy"] == "Gold"
    assert codes(never) == ["no_sessions"]
    assert folded(never, "rpo_breached")["evidence"]["cause"] == "never_started"
    assert folded(never, "rpo_breached")["evidence"]["tier"] == "critical"


def test_a_disabled_policy_s_stopped_vm_is_one_violation_naming_the_policy_as_cause():
    records = [session("vm1", "2025-06-13T23:00:00Z", "2025-06-14T06:00:00Z")]
    report = evaluate(records, now=NOW, policies=[policy(enabled=False)], policy_sessions=[policy_session()])
    vm = vm_entry(report, "vm1")
    assert codes(vm) == ["stale"]
    assert finding(vm, "stale")["evidence"]["cause"] == "policy_disabled"
    assert sorted(item["code"] for item in finding(vm, "stale")["folded"]) == ["gap", "rpo_breached"]
    assert report["summary"]["findings"]["violation"] == 1


def test_scope_from_policies():
    report = evaluate(covered("vm1"), now=NOW, policies=[policy()], policy_sessions=[policy_session()],
                      rules={"scope": {"from_policies": True}})
    assert "no_sessions" in codes(vm_entry(report, "listed-vm"))


def test_unknown_rpo_is_informational():
    pol = policy()
    del pol["policy_schedule_options"]
    vm = vm_entry(evaluate(covered("vm1"), now=NOW, policies=[pol], policy_sessions=[policy_session()]), "vm1")
    assert vm["rpo_seconds"] is None and vm["max_gap_source"] == "default"
    assert finding(vm, "rpo_unknown")["severity"] == "info"
    report = evaluate(covered("vm1"), now=NOW, policies=[pol], policy_sessions=[policy_session()])
    assert "rpo_unknown" in codes(report["policies"][0]) and "rpo_reporting_unknown" in codes(report["policies"][0])


def test_rpo_target_override_without_policy():
    records = covered("vm1", gap=("2025-06-14T10:00:00Z", "2025-06-14T10:20:00Z"))
    vm = vm_entry(evaluate(records, now=NOW, rules={"rpo": {"target": "1m", "lag_tolerance": "5m"}}), "vm1")
    assert vm["rpo_seconds"] == 60.0 and finding(vm, "rpo_breached")["evidence"]["tier"] == "major"


def test_policy_configuration_findings():
    pols = [policy(warning=False, failed=False, enabled=False)]
    sessions = [
        policy_session(),
        policy_session(uid="ps2", state="Stopped", result="Failed", failure_message="<i>Proxy</i> unavailable",
                       start="2025-06-14T02:00:00Z", end="2025-06-14T03:00:00Z"),
        policy_session(uid="ps-old", state="Stopped", result="Failed", failure_message="old", start="2025-06-01T00:00:00Z",
                       end="2025-06-01T01:00:00Z"),
    ]
    report = evaluate(covered("vm1"), now=NOW, policies=pols, policy_sessions=sessions)
    pol = report["policies"][0]
    assert codes(pol) == ["policy_disabled", "policy_session_failed", "rpo_error_reporting_off", "rpo_warning_reporting_off"]
    failed = finding(pol, "policy_session_failed")
    assert failed["severity"] == "violation"
    assert [item["uid"] for item in failed["evidence"]["sessions"]] == ["ps2"]
    assert failed["evidence"]["sessions"][0]["failure_message"] == "<i>Proxy</i> unavailable"
    assert pol["enabled"] is False and pol["status"] == "non_compliant" and pol["own_status"] == "non_compliant"
    assert report["verdict"] == "non_compliant"
    off = evaluate(covered("vm1"), now=NOW, policies=pols, policy_sessions=sessions,
                   rules={"overrides": {"policies": {"Gold": {"policy_config": {"enabled": False}}}}})
    assert off["policies"][0]["findings"] == []


def test_policy_waiver():
    pols = [policy(enabled=False)]
    waivers = [{"policy": "Gold", "reason": "decommissioning", "expires": "2099-01-01"}]
    report = evaluate(covered("vm1"), now=NOW, policies=pols, policy_sessions=[policy_session()], waivers=waivers)
    assert finding(report["policies"][0], "policy_disabled")["waived"] is True
    assert report["verdict"] == "compliant"


def test_policy_referenced_but_not_listed_is_a_stub():
    report = evaluate(covered("vm1"), now=NOW, policy_sessions=[policy_session(policy_uid="p-missing", name="Silver")])
    vm = vm_entry(report, "vm1")
    assert vm["policy"] == "Silver" and vm["rpo_seconds"] is None
    assert report["policies"][0]["known"] is False and "policy_not_found" in codes(report["policies"][0])


@pytest.mark.parametrize("record", [None, "text", 5, [], {"links": "nonsense", "policy_schedule_options": [1, None, "x"]}])
def test_odd_policy_records_never_crash(record):
    report = evaluate(covered("vm1"), now=NOW, policies=[record], policy_sessions=[record])
    assert report["vms"][0]["name"] == "vm1"


def test_backup_server_override_applies_to_policy_and_vm():
    records = covered("vm1", gap=("2025-06-14T10:00:00Z", "2025-06-14T10:40:00Z"))
    for record in records:
        record["backup_server_name"] = "backupsrv29"
    rules = {"overrides": {"backup_servers": {"backupsrv29": {"coverage": {"max_gap": "1h"}, "policy_config": {"rpo_reporting": False}}}}}
    report = evaluate(records, now=NOW, policies=[policy(warning=False)], policy_sessions=[policy_session()], rules=rules)
    assert "gap" not in codes(vm_entry(report, "vm1"))
    assert "rpo_warning_reporting_off" not in codes(report["policies"][0])


def test_policy_configuration_status_is_kept_apart_from_its_vms_status():
    """The first-hour review: a policy with RPO error reporting off and only compliant VMs."""
    report = evaluate(covered("vm1") + covered("vm2"), now=NOW, policies=[policy(failed=False)], policy_sessions=[policy_session()])
    pol = report["policies"][0]
    assert pol["config_status"] == "warning" and pol["own_status"] == "warning"
    assert pol["vms_status"] == "compliant"
    assert pol["vm_counts"] == {"compliant": 2, "warning": 0, "non_compliant": 0}
    assert pol["status"] == "warning"  # the worse of the two, as before


def test_policy_vms_status_is_the_worst_of_its_vms_and_compliant_without_vms():
    records = covered("vm1") + covered("vm2", gap=("2025-06-14T10:00:00Z", "2025-06-14T12:00:00Z"))
    report = evaluate(records, now=NOW, policies=[policy(), policy(uid="p2", name="Empty")], policy_sessions=[policy_session()])
    gold, empty = report["policies"]
    assert (gold["config_status"], gold["vms_status"], gold["status"]) == ("compliant", "non_compliant", "non_compliant")
    assert gold["vm_counts"] == {"compliant": 1, "warning": 0, "non_compliant": 1}
    no_vms = {"compliant": 0, "warning": 0, "non_compliant": 0}
    assert (empty["config_status"], empty["vms_status"], empty["vm_counts"]) == ("compliant", "compliant", no_vms)
