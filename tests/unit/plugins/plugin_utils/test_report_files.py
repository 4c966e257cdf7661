# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON report, the combined multi-EM report in every format, file names, and writing the files."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_config import ComplianceConfigError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils import report_files as reports
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_html import render_html
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_junit import render_junit
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_markdown import render_markdown
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import sample_report, second_report


def test_json_round_trips():
    report = sample_report()
    assert json.loads(reports.render_json(report)) == report


def test_combined_report_with_unreachable_em():
    first = sample_report("em1")
    second = second_report("em2")
    combined = combine_reports([first, second, {"em_host": "em3", "status": "unreachable", "error": "connection refused"},
                                {"failed": True, "msg": "timed out", "item": "em4"}])
    assert combined["verdict"] == "incomplete"
    assert [(em["em_host"], em["status"]) for em in combined["ems"]] == [("em1", "ok"), ("em2", "ok"), ("em3", "unreachable"), ("em4", "unreachable")]
    assert combined["ems"][2]["error"] == "connection refused"
    assert combined["summary"]["vms"] == len(first["vms"]) + 1
    assert {vm["em_host"] for vm in combined["vms"]} == {"em1", "em2"}
    assert json.loads(json.dumps(combined)) == combined
    for render in (render_html, render_markdown, reports.render_json):
        text = render(combined)
        assert "em3" in text and "connection refused" in text
    root = ET.fromstring(render_junit(combined).encode("utf-8"))
    errors = [case for case in root.iter("testcase") if case.find("error") is not None]
    assert {case.get("classname") for case in errors} >= {"cdp_compliance.em3", "cdp_compliance.em4"}


def test_combined_verdict_of_reachable_ems_is_the_worst():
    good = second_report("a")
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
    assert sorted(paths) == ["csv", "html", "json", "junit", "markdown", "sha256"]
    for path in paths.values():
        assert os.path.dirname(path) == str(tmp_path / "out")
        assert os.path.basename(path).startswith("cdp-compliance-em1.example-")
    assert json.loads(open(paths["json"], encoding="utf-8").read())["verdict"] == report["verdict"]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(os.path.basename(path) for path in paths.values())  # no temp files left
    again = reports.write_reports(report, str(tmp_path / "out"), formats="markdown", basename="fixed")
    assert again == {"markdown": str(tmp_path / "out" / "fixed.md"), "sha256": str(tmp_path / "out" / "fixed.sha256")}
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


@pytest.mark.parametrize("report, expected", [
    ({"kind": "cdp_compliance_report", "em_host": "https://em1.example:9398", "generated_at": "2025-06-15T00:00:00.123Z"},
     "cdp-compliance-em1.example-20250615T000000Z"),
    ({"kind": "cdp_compliance_report", "em_host": "https://em1.example:8443/", "generated_at": "2025-06-15T00:00:00Z"},
     "cdp-compliance-em1.example_8443-20250615T000000Z"),
    ({"kind": "cdp_compliance_combined_report", "em_host": None, "ems": [{"em_host": "https://a:9398"}, {"em_host": "b"}],
      "generated_at": "2025-06-15T01:02:03Z"}, "cdp-compliance-combined-20250615T010203Z"),
    ({"kind": "cdp_compliance_combined_report", "em_host": None, "ems": [{"em_host": "https://a:9398"}], "generated_at": "2025-06-15T01:02:03Z"},
     "cdp-compliance-a-20250615T010203Z"),
    ({"kind": "cdp_compliance_report", "em_host": "../../etc/x y", "generated_at": None}, "cdp-compliance-.._.._etc_x_y-Z"),
    ({}, "cdp-compliance-em-Z"),
])
def test_default_basename_is_one_safe_file_name(report, expected):
    assert reports.default_basename(report) == expected
    reports.check_basename(reports.default_basename(report))


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/abs"])
def test_check_basename_refuses_paths(name):
    with pytest.raises(ValueError, match="basename must be a file name"):
        reports.check_basename(name)


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the old one back."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_umask(value):
        os.umask(value)
    yield set_umask
    os.umask(saved)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o640), (0o027, 0o640), (0o077, 0o600), (0o002, 0o640)])
def test_files_are_no_wider_than_0640_and_honour_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    paths = reports.write_reports(sample_report(), str(tmp_path), formats=["json", "csv"], basename="r")
    for path in paths.values():
        assert os.stat(path).st_mode & 0o7777 == expected, path


@pytest.mark.parametrize("mode, expected", [("0600", 0o600), ("644", 0o644), (0o440, 0o440), ("0o600", 0o600)])
def test_an_explicit_mode_is_used_as_given(tmp_path, umask, mode, expected):
    umask(0o077)
    paths = reports.write_reports(sample_report(), str(tmp_path), formats=["markdown"], basename="r", mode=mode)
    assert {os.stat(path).st_mode & 0o7777 for path in paths.values()} == {expected}


@pytest.mark.parametrize("mode", ["u=rw", "0999", "99999", True, 0o10000, -1])
def test_bad_modes_are_refused_before_writing(tmp_path, mode):
    with pytest.raises(ValueError, match="mode must be"):
        reports.write_reports(sample_report(), str(tmp_path / "out"), basename="r", mode=mode)
    assert not os.path.exists(tmp_path / "out")


def test_manifest_verifies_with_sha256sum(tmp_path):
    paths = reports.write_reports(sample_report(), str(tmp_path))
    manifest = paths["sha256"]
    with open(manifest, encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    assert sorted(line.split("  ", 1)[1] for line in lines) == sorted(os.path.basename(paths[fmt]) for fmt in reports.DEFAULT_FORMATS)
    checked = subprocess.run(["sha256sum", "-c", os.path.basename(manifest)], cwd=str(tmp_path), capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(reports.DEFAULT_FORMATS)
    with open(paths["csv"], "a", encoding="utf-8") as stream:
        stream.write("tampered\r\n")
    tampered = subprocess.run(["sha256sum", "-c", os.path.basename(manifest)], cwd=str(tmp_path), capture_output=True, text=True, check=False)
    assert tampered.returncode != 0 and "FAILED" in tampered.stdout
