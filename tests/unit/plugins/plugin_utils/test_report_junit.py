# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JUnit XML report: one case per VM and rule, well-formed whatever EM sends."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import VM_RULES, combine_reports
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_junit import render_junit
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import NASTY, NOW, sample_report, second_report, session


def _root(report, **options):
    text = render_junit(report, **options)
    assert text.startswith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ")
    return ET.fromstring(text.encode("utf-8"))


def test_junit_has_one_case_per_vm_and_rule():
    report = sample_report()
    root = _root(report)
    vm_suite = next(suite for suite in root.iter("testsuite") if suite.get("name").endswith(".vms"))
    cases = list(vm_suite.iter("testcase"))
    names = {(case.get("classname").rsplit(".", 1)[-1], case.get("name")) for case in cases if case.get("classname").endswith(".good")}
    assert {rule for _vm, rule in names} >= set(VM_RULES)
    failing = [case for case in cases if case.find("failure") is not None]
    assert failing and all("\x01" not in (case.get("classname") or "") for case in cases)
    skipped = [case for case in cases if case.find("skipped") is not None]
    assert any("tuning" in case.find("skipped").get("message") for case in skipped)
    assert int(root.get("tests")) == sum(int(suite.get("tests")) for suite in root.iter("testsuite"))
    policy_suite = next(suite for suite in root.iter("testsuite") if suite.get("name").endswith(".policies"))
    assert policy_suite.find("testcase/failure") is not None


def test_junit_counts_add_up():
    root = _root(sample_report())
    for suite in root.iter("testsuite"):
        cases = list(suite.iter("testcase"))
        assert int(suite.get("tests")) == len(cases)
        for outcome, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(attribute)) == sum(1 for case in cases if case.find(outcome) is not None)
    for attribute in ("failures", "errors", "skipped"):
        assert int(root.get(attribute)) == sum(int(suite.get(attribute)) for suite in root.iter("testsuite"))
    data_suite = next(suite for suite in root.iter("testsuite") if suite.get("name").endswith(".data"))
    assert {prop.get("name"): prop.get("value") for prop in data_suite.iter("property")}["verdict"] == "non_compliant"


def test_warnings_as_failures():
    report = evaluate([session("warn", "2025-06-13T23:00:00Z", "2025-06-14T18:00:00Z", result="Warning", reason="slow"),
                       session("warn", "2025-06-14T18:00:00Z")], now=NOW)
    assert report["verdict"] == "warning"
    assert _root(report).find(".//failure") is None
    failure = _root(report, warnings_as_failures=True).find(".//failure")
    assert failure is not None and "slow" in failure.get("message")


def test_junit_incomplete_is_an_error_case():
    root = _root(sample_report(truncated=True))
    assert root.find("testsuite/testcase/error") is not None


def test_hostile_values_round_trip_as_text():
    report = sample_report(em_host="em<1>", hostile=NASTY)
    text = render_junit(report)
    assert "<script>" not in text and "]]>" not in text.split("?>", 1)[1]
    root = ET.fromstring(text.encode("utf-8"))  # control characters and the lone surrogate would make this fail
    expected = NASTY
    for forbidden, shown in (("\x00", "\u2400"), ("\x07", "\u2407"), ("\x1b", "\u241b"), ("\ud800", "\ufffd")):
        expected = expected.replace(forbidden, shown)  # control pictures: visible, and valid XML
    classnames = {case.get("classname") for case in root.iter("testcase")}
    assert "cdp_compliance.em<1>.%s" % expected in classnames
    failures = [case.find("failure") for case in root.iter("testcase") if case.find("failure") is not None]
    assert any(expected in (failure.text or "") or expected in failure.get("message") for failure in failures)


def test_combined_junit_has_an_error_case_per_unreachable_em():
    combined = combine_reports([sample_report("em1"), second_report("em2"), {"em_host": "em3", "status": "unreachable", "error": "refused"}])
    root = _root(combined)
    errors = [case for case in root.iter("testcase") if case.find("error") is not None]
    assert [(case.get("classname"), case.get("name")) for case in errors] == [("cdp_compliance.em3", "reachable")]
    assert errors[0].find("error").get("message") == "EM unreachable: refused"
    suites = [suite.get("name") for suite in root.iter("testsuite")]
    assert "cdp_compliance.em1.vms" in suites and "cdp_compliance.em2.vms" in suites
