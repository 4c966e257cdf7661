# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report renderers and the combined multi-EM report."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import reports
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_config import ComplianceConfigError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports

NOW = "2025-06-15T00:00:00Z"
HOSTILE = "<script>alert('x')</script>|*_`[a](b)&\x01"


def session(vm, start, end=None, result="Success", reason=None, uid=None):
    return {"uid": uid or "u-%s-%s" % (vm, start), "name": vm, "vm_display_name": vm, "policy_session_uid": "ps1",
            "policy_session_name": None, "backup_server_uid": None, "backup_server_name": "srv<1>", "creation_time_utc": start,
            "end_time_utc": end, "state": "Completed" if end else "InProgress", "result": result, "reason": reason,
            "total_size": None, "duration_seconds": None, "href": None, "links": []}


def sample_report(em_host="em1.example", truncated=False):
    records = [
        session("good", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z"), session("good", "2025-06-14T18:00:00Z"),
        session(HOSTILE, "2025-06-14T02:00:00Z", "2025-06-14T03:00:00Z", result="Failed", reason=HOSTILE),
        session("warn", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z", result="Warning", reason="slow"),
        session("warn", "2025-06-14T18:00:00Z"),
    ]
    policies = [{"uid": "p1", "name": "Gold" + HOSTILE, "policy_schedule_options": {"recovery_point_objective_seconds": 15},
                 "schedule_enabled": False}]
    policy_sessions = [{"uid": "ps1", "policy_uid": "p1", "policy_name": "Gold", "state": "Stopped", "result": "Failed",
                        "failure_message": HOSTILE, "creation_time_utc": "2025-06-14T01:00:00Z", "end_time_utc": "2025-06-14T02:00:00Z"}]
    return evaluate(records, now=NOW, policies=policies, policy_sessions=policy_sessions, truncated=truncated,
                    waivers=[{"vm": "warn", "reason": "tuning <b>", "expires": "2099-01-01"}],
                    evidence={"em_host": em_host, "api_version": "v1_7", "collection_version": "0.1.0",
                              "query": "type=CdpReplicaTaskSession&filter=CreationTimeUTC>=\"2025-06-14T00:00:00Z\""})


def test_json_round_trips():
    report = sample_report()
    assert json.loads(reports.render_json(report)) == report


def test_html_is_self_contained_and_escaped():
    text = reports.render_html(sample_report())
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text)
    assert "<link" not in text and "@import" not in text
    assert "Content-Security-Policy" in text
    assert text.count("<script>") == 1  # only the inline sorter
    assert "NON COMPLIANT" in text and "Policies" in text and 'class="tl"' in text
    assert "em1.example" in text
    assert "waived until 2099-01-01: tuning &lt;b&gt;" in text


def test_html_scales_to_ten_thousand_vms():
    records = []
    for index in range(10000):
        vm = "vm%05d" % index
        records.append(session(vm, "2025-06-13T23:00:00Z", "2025-06-14T%02d:00:00Z" % (index % 20 + 1)))
        records.append(session(vm, "2025-06-14T%02d:30:00Z" % (index % 20 + 1), "2025-06-14T22:00:00Z"))
        records.append(session(vm, "2025-06-14T22:00:00Z"))
    report = evaluate(records, now=NOW)
    text = reports.render_html(report)
    assert text.count("<tr class=\"s-") >= 10000
    assert len(text) < 60 * 1024 * 1024


def test_junit_has_one_case_per_vm_and_rule():
    report = sample_report()
    root = ET.fromstring(reports.render_junit(report).encode("utf-8"))
    vm_suite = next(suite for suite in root.iter("testsuite") if suite.get("name").endswith(".vms"))
    cases = list(vm_suite.iter("testcase"))
    names = {(case.get("classname").rsplit(".", 1)[-1], case.get("name")) for case in cases if case.get("classname").endswith(".good")}
    assert {rule for _vm, rule in names} >= set(reports.VM_RULE_CASES)
    failing = [case for case in cases if case.find("failure") is not None]
    assert failing and all("\x01" not in (case.get("classname") or "") for case in cases)
    skipped = [case for case in cases if case.find("skipped") is not None]
    assert any("tuning" in case.find("skipped").get("message") for case in skipped)
    assert int(root.get("tests")) == sum(int(suite.get("tests")) for suite in root.iter("testsuite"))
    policy_suite = next(suite for suite in root.iter("testsuite") if suite.get("name").endswith(".policies"))
    assert policy_suite.find("testcase/failure") is not None


def test_junit_incomplete_is_an_error_case():
    root = ET.fromstring(reports.render_junit(sample_report(truncated=True)).encode("utf-8"))
    assert root.find("testsuite/testcase/error") is not None


def test_markdown_escapes_and_summarises():
    text = reports.render_markdown(sample_report())
    assert "<script>" not in text
    assert "\\|" in text and "\\*" in text
    assert text.startswith("# CDP replication compliance: NON COMPLIANT")
    assert "## Policies" in text and "## VMs needing attention" in text
    assert "warn" not in text.split("## VMs needing attention")[1]  # its only warning is waived


def test_markdown_caps_vm_details_visibly():
    records = [session("vm%03d" % index, "2025-06-14T02:00:00Z", "2025-06-14T03:00:00Z") for index in range(30)]
    text = reports.render_markdown(evaluate(records, now=NOW), max_vms=10)
    assert "20 more VMs need attention" in text


def test_combined_report_with_unreachable_em():
    first = sample_report("em1")
    second = evaluate([session("x", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z"), session("x", "2025-06-14T18:00:00Z")], now=NOW,
                      evidence={"em_host": "em2"})
    combined = combine_reports([first, second, {"em_host": "em3", "status": "unreachable", "error": "connection refused"},
                                {"failed": True, "msg": "timed out", "item": "em4"}])
    assert combined["verdict"] == "incomplete"
    assert [(em["em_host"], em["status"]) for em in combined["ems"]] == [("em1", "ok"), ("em2", "ok"), ("em3", "unreachable"), ("em4", "unreachable")]
    assert combined["ems"][2]["error"] == "connection refused"
    assert combined["summary"]["vms"] == len(first["vms"]) + 1
    assert {vm["em_host"] for vm in combined["vms"]} == {"em1", "em2"}
    assert json.loads(json.dumps(combined)) == combined
    for render in (reports.render_html, reports.render_markdown, reports.render_json):
        text = render(combined)
        assert "em3" in text and "connection refused" in text
    root = ET.fromstring(reports.render_junit(combined).encode("utf-8"))
    errors = [case for case in root.iter("testcase") if case.find("error") is not None]
    assert {case.get("classname") for case in errors} >= {"cdp_compliance.em3", "cdp_compliance.em4"}


def test_combined_verdict_of_reachable_ems_is_the_worst():
    good = evaluate([session("x", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z"), session("x", "2025-06-14T18:00:00Z")], now=NOW,
                    evidence={"em_host": "a"})
    assert combine_reports([good])["verdict"] == "compliant"
    assert combine_reports([good, sample_report("b")])["verdict"] == "non_compliant"
    assert combine_reports([])["verdict"] == "compliant"
    with pytest.raises(ComplianceConfigError):
        combine_reports("nope")
    with pytest.raises(ComplianceConfigError):
        combine_reports([combine_reports([good])])


def test_write_reports_atomically(tmp_path):
    report = sample_report()
    paths = reports.write_reports(report, str(tmp_path / "out"))
    assert sorted(paths) == ["html", "json", "junit", "markdown"]
    for path in paths.values():
        assert os.path.dirname(path) == str(tmp_path / "out")
        assert os.path.basename(path).startswith("cdp-compliance-em1.example-")
    assert json.loads(open(paths["json"], encoding="utf-8").read())["verdict"] == report["verdict"]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(os.path.basename(path) for path in paths.values())  # no temp files left
    again = reports.write_reports(report, str(tmp_path / "out"), formats="markdown", basename="fixed")
    assert again == {"markdown": str(tmp_path / "out" / "fixed.md")}
    with pytest.raises(ValueError):
        reports.write_reports(report, str(tmp_path), formats=["pdf"])
    with pytest.raises(ValueError):
        reports.write_reports(report, str(tmp_path), basename="../escape")


def test_failed_write_leaves_no_temp_file(tmp_path, monkeypatch):
    def broken(_report):
        raise RuntimeError("boom")
    monkeypatch.setitem(reports.RENDERERS, "json", broken)
    with pytest.raises(RuntimeError):
        reports.write_reports(sample_report(), str(tmp_path), formats=["json"])
    assert os.listdir(tmp_path) == []
