# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every format shows the scope, waivers, policy split and provenance of the report contract, "not recorded" when a
field is absent (an older report), and none passes EM's control characters on raw."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_common import clean_text
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_files import RENDERERS, render_json
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_html import render_html
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_junit import render_junit
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_markdown import render_markdown
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import CONTROLS, contract_report, report_without_scope_fields, sample_report

HUMAN = (render_html, render_markdown)


def _junit_properties(report):
    root = ET.fromstring(render_junit(report).encode("utf-8"))
    suite = {prop.get("name"): prop.get("value") for prop in root.find("testsuite/properties")}
    cases = {}
    for case in root.iter("testcase"):
        props = case.find("properties")
        if props is not None:
            cases[case.get("classname").rsplit(".", 1)[-1]] = {prop.get("name"): prop.get("value") for prop in props}
    return suite, cases


def _csv_rows(report):
    return list(csv.DictReader(io.StringIO(RENDERERS["csv"](report))))


@pytest.mark.parametrize("render", HUMAN)
def test_human_formats_show_scope_provenance_and_how_to_read(render):
    text = render(contract_report())
    for shown in ("good, hr-payroll-\\*" if render is render_markdown else "good, hr-payroll-*", "12.3.1.1139 P20250115",
                  "v1\\_8\\_Rev0" if render is render_markdown else "v1_8_Rev0", "awx-ee-7", "job 4711 (template CDP audit, launched by auditor)",
                  "Q2 CDP audit", "2025-Q2", "policy data unavailable: 403 Forbidden", "How to read this report", "until 2099-01-01",
                  "1 new, 0 resolved, 0 persisting, 0 appeared, 1 disappeared"):
        assert shown in text, shown
    assert "not recorded" not in text.split("How to read")[0].replace("Expected scope", "")


@pytest.mark.parametrize("render", HUMAN)
def test_older_reports_say_not_recorded(render):
    report = sample_report()
    del report["evidence"]["expected_vms"]
    text = render(report)
    for label in ("EM version", "EM build", "Controller", "AWX job", "Title", "Period", "Expected scope"):
        assert ("%s</th><td>not recorded" % label if render is render_html else "- %s: not recorded" % label) in text, label
    assert "policy data unavailable" not in text
    assert "no expected scope" in render(sample_report()).split("How to read")[0]  # [] is a scope check that was not asked for


def test_html_policy_split_and_vm_columns():
    text = render_html(contract_report())
    assert "<th>Configuration</th><th>VMs' status</th>" in text
    assert "<td>non_compliant</td><td>warning</td>" in text and "<td>2 / 1 / 0</td>" in text
    assert "<th>Expected</th><th>Waiver</th>" in text
    assert "<td>yes</td><td>no</td>" in text  # good: expected, no waiver
    assert "<td>no</td><td>until 2099-01-01: tuning &lt;b&gt; (failures)</td>" in text
    older = render_html(report_without_scope_fields())
    assert "<td>not recorded</td><td>not recorded</td>" in older  # neither field in a 0.1.0 report


def test_markdown_policy_split_and_vm_columns():
    text = render_markdown(contract_report())
    assert "| configuration | VMs' status | VMs | VMs compliant / warning / non-compliant |" in text
    assert "| non\\_compliant | warning | 3 | 2 / 1 / 0 |" in text
    assert "| status | VM | expected | waiver | policy |" in text


def test_folded_findings_are_shown_with_the_finding_they_explain():
    assert "same cause, folded in: freshness/stale: no session &lt;since&gt; the gap" in render_html(contract_report())
    assert "same cause, folded in: freshness/stale: no session &lt;since&gt; the gap" in render_markdown(contract_report())
    root = ET.fromstring(render_junit(contract_report()).encode("utf-8"))
    failures = [case.find("failure").text for case in root.iter("testcase") if case.get("name") == "coverage" and case.find("failure") is not None]
    assert any("same cause, folded in: freshness/stale: no session <since> the gap" in text for text in failures)
    assert "folded in" not in render_html(sample_report())


def test_drift_and_trends_are_listed():
    page = render_html(contract_report())
    assert "<h2>Changes since the previous audit</h2>" in page and "<li>warn: failures/replication_warning: slow &lt;1&gt;</li>" in page
    assert "<h3>disappeared</h3><ul><li>old</li>" in page and "<h3>resolved</h3>" not in page
    text = render_markdown(contract_report())
    assert "- warn: failures/replication\\_warning: slow &lt;1&gt;" in text and "**disappeared**\n\n- old" in text
    assert "| warn | 75.5 | 90 | warning | 2025-06-10T00:00:00Z |" in text
    assert "good | 100" not in text  # always compliant: not listed
    for render in HUMAN:
        assert "Changes since the previous audit" not in render(sample_report()).split("How to read")[1]


def test_markdown_query_line_has_no_doubled_escapes():
    report = sample_report()
    report["evidence"]["query"] = {"type": "CdpReplicaTaskSession", "filter": 'CreationTimeUTC>="2025-06-14T00:00:00Z"', "page_size": 1000}
    line = next(line for line in render_markdown(report).splitlines() if line.startswith("- Query:"))
    assert line == '- Query: type=CdpReplicaTaskSession; filter=CreationTimeUTC&gt;="2025-06-14T00:00:00Z"; page\\_size=1000'
    assert "\\\"" not in line


def test_junit_carries_scope_provenance_and_per_vm_scope():
    suite, cases = _junit_properties(contract_report())
    assert suite["expected_scope"] == "good, hr-payroll-*" and suite["em_version"] == "12.3.1.1139"
    assert suite["policy_data"] == "policy data unavailable: 403 Forbidden" and suite["title"] == "Q2 CDP audit"
    assert cases["good"] == {"expected": "yes", "waiver": "no"}
    assert cases["warn"] == {"expected": "no", "waiver": "until 2099-01-01: tuning <b> (failures)"}
    suite, cases = _junit_properties(report_without_scope_fields())
    assert suite["expected_scope"] == "no expected scope" and suite["em_version"] == "not recorded"
    assert cases["good"] == {"expected": "not recorded", "waiver": "not recorded"}


def test_csv_carries_per_vm_scope():
    rows = {row["vm"]: row for row in _csv_rows(contract_report())}
    assert rows["good"]["expected"] == "yes" and rows["good"]["waiver"] == "no"
    assert rows["warn"]["waiver"] == "until 2099-01-01: tuning <b> (failures)"
    assert {row["expected"] for row in _csv_rows(report_without_scope_fields())} == {"not recorded"}


def test_combined_reports_show_each_ems_scope():
    first, second = contract_report("em1"), sample_report("em2")
    text = render_markdown(combine_reports([first, second]))
    assert "- Expected scope: em1: good, hr-payroll-\\*; em2: no expected scope" in text
    assert "policy data unavailable: em1: 403 Forbidden" in text


def _hostile_report():
    report = contract_report()
    report["vms"][0]["name"] = "vm" + CONTROLS + "end"
    report["vms"][0]["findings"].append({"rule": "failures", "code": "x", "severity": "violation", "message": "m" + CONTROLS,
                                         "evidence": {}, "waived": False})
    report["evidence"]["title"] = "title" + CONTROLS
    return report


@pytest.mark.parametrize("fmt", ["html", "markdown", "junit", "csv"])
def test_control_characters_are_neutralised_in_every_format(fmt):
    text = RENDERERS[fmt](_hostile_report())
    for char in CONTROLS:
        assert char not in text, (fmt, repr(char))
    assert "vm\u2400\u2408\u241b\u2421\ufffdend" in text  # visible, not dropped


def test_json_escapes_control_characters_and_stays_exact():
    report = _hostile_report()
    text = render_json(report)
    for char in CONTROLS + "\ud800":
        assert char not in text
    assert "vm\\u0000\\b\\u001b\\u007f\\u0085end" in text
    assert json.loads(text) == report
    nasty = dict(report, extra="lone \ud800 surrogate")
    assert json.loads(render_json(nasty)) == nasty
    render_json(nasty).encode("utf-8")  # writable: no lone surrogate left


def test_clean_text_keeps_tabs_and_line_breaks():
    assert clean_text("a\tb\nc\r\n") == "a\tb\nc\r\n"
    assert clean_text(None) == "" and clean_text(12) == "12"
    assert clean_text("\x9b[31m") == "\ufffd[31m"  # C1 CSI cannot start a terminal escape
