# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cdp_compliance_report action: what it writes, how it names files, and what it refuses."""

from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest

from ansible.playbook.play_context import PlayContext

from ansible_collections.veeam.enterprise_manager.plugins.action.cdp_compliance_report import ActionModule
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import sample_report, second_report


def run_action(args, check_mode=False):
    task = MagicMock(args=args, check_mode=check_mode, async_val=0, action="veeam.enterprise_manager.cdp_compliance_report")
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task=task, connection=connection, play_context=PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    # The plugin loader sets this; ansible-core before 2.19 names the plugin with it in argument errors.
    action._load_name = task.action
    return action.run(task_vars={})


def test_single_report_writes_every_format(tmp_path):
    report = sample_report("https://em1.example:9398")
    result = run_action({"report": report, "dest": str(tmp_path)})
    assert not result.get("failed"), result
    assert result["changed"] and result["verdict"] == "non_compliant" and result["kind"] == "cdp_compliance_report"
    assert result["basename"].startswith("cdp-compliance-em1.example-2")  # no scheme, no default port
    assert sorted(result["files"]) == ["csv", "html", "json", "junit", "markdown", "sha256"]
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(path) for path in result["files"].values())
    with open(result["files"]["json"], encoding="utf-8") as handle:
        assert json.load(handle) == report
    assert result["summary"] == report["summary"] and result["data"] == report["data"] and "ems" not in result


def test_combined_reports_with_an_unreachable_entry(tmp_path):
    result = run_action({"reports": [sample_report("em1"), second_report("em2"),
                                     {"em_host": "em3", "status": "unreachable", "error": "connection refused"},
                                     {"failed": True, "msg": "timed out", "item": "em4"}],
                         "dest": str(tmp_path), "formats": ["json"]})
    assert result["kind"] == "cdp_compliance_combined_report" and result["verdict"] == "incomplete"
    assert result["basename"].startswith("cdp-compliance-combined-")
    assert result["ems"] == [
        {"em_host": "em1", "status": "ok", "verdict": "non_compliant", "error": None},
        {"em_host": "em2", "status": "ok", "verdict": "compliant", "error": None},
        {"em_host": "em3", "status": "unreachable", "verdict": "incomplete", "error": "connection refused"},
        {"em_host": "em4", "status": "unreachable", "verdict": "incomplete", "error": "timed out"},
    ]
    assert result["summary"]["ems_unreachable"] == 2


def test_a_single_unreachable_entry_gets_its_own_report(tmp_path):
    result = run_action({"report": {"kind": "cdp_compliance_unreachable", "em_host": "https://em2.example.com:9398",
                                    "status": "unreachable", "verdict": "incomplete", "error": "refused"},
                         "dest": str(tmp_path), "formats": ["markdown"]})
    assert result["verdict"] == "incomplete" and result["basename"].startswith("cdp-compliance-em2.example.com-")
    with open(result["files"]["markdown"], encoding="utf-8") as handle:
        assert "refused" in handle.read()


@pytest.mark.parametrize("options, label", [
    ({"host": "em3.example.com", "port": 9443, "error": "down"}, "https://em3.example.com:9443"),
    ({"host": "em3.example.com", "port": None, "error": "down"}, "https://em3.example.com:9398"),
    ({"host": "https://em3.example.com/api", "port": 9398, "error": "down"}, "https://em3.example.com:9398"),
    ({"host": "not a host", "port": 9398, "error": "host is neither a host name nor a URL"}, "not a host"),
])
def test_unreachable_option_names_the_em_like_a_reachable_one(tmp_path, options, label):
    result = run_action({"unreachable": options, "dest": str(tmp_path), "formats": ["json"]})
    assert result["unreachable_entry"] == {"kind": "cdp_compliance_unreachable", "em_host": label, "status": "unreachable",
                                           "verdict": "incomplete", "error": options["error"]}
    assert result["ems"] == [{"em_host": label, "status": "unreachable", "verdict": "incomplete", "error": options["error"]}]
    assert result["verdict"] == "incomplete"


def test_given_basename_and_formats(tmp_path):
    result = run_action({"report": sample_report(), "dest": str(tmp_path / "new"), "formats": ["junit", "junit", "html"],
                         "basename": "fixed"})
    assert result["files"] == {"junit": str(tmp_path / "new" / "fixed.junit.xml"), "html": str(tmp_path / "new" / "fixed.html"),
                               "sha256": str(tmp_path / "new" / "fixed.sha256")}
    assert sorted(os.listdir(tmp_path / "new")) == ["fixed.html", "fixed.junit.xml", "fixed.sha256"]


def test_check_mode_writes_nothing(tmp_path):
    result = run_action({"report": sample_report(), "dest": str(tmp_path / "never"), "basename": "x"}, check_mode=True)
    assert result["changed"] and result["files"]["html"] == str(tmp_path / "never" / "x.html")
    assert not os.path.exists(tmp_path / "never")


@pytest.mark.parametrize("args, message", [
    ({}, "one of the following is required: report, reports, unreachable"),
    ({"report": {"kind": "cdp_compliance_report", "vms": []}, "reports": []}, "mutually exclusive"),
    ({"report": {"kind": "something_else"}}, "is not a CDP compliance report"),
    ({"report": {"em_host": "em1", "error": "no status"}}, "is not a CDP compliance report"),
    ({"reports": []}, "reports is empty"),
    ({"reports": [{"kind": "cdp_compliance_combined_report", "vms": []}]}, "cannot be combined again"),
    ({"reports": ["text"]}, "expected a report dictionary"),
    ({"report": {"kind": "cdp_compliance_report", "vms": []}, "formats": ["pdf"]}, "value of formats must be one or more of"),
    ({"report": {"kind": "cdp_compliance_report", "vms": []}, "formats": []}, "formats must name at least one of"),
    ({"report": {"kind": "cdp_compliance_report", "vms": []}, "basename": "../escape"}, "basename must be a file name"),
    ({"report": {"kind": "cdp_compliance_report", "vms": []}, "host": "em.example.com"}, "Unsupported parameters"),
    ({"report": {"kind": "cdp_compliance_report", "vms": []}, "password": "S3cret"}, "Unsupported parameters"),
    ({"unreachable": {"host": "em1"}}, "missing required arguments: error"),
])
def test_bad_input_fails_with_a_clear_message(tmp_path, args, message):
    result = run_action(dict(args, dest=str(tmp_path)))
    assert result.get("failed") and message in result["msg"], result
    assert "S3cret" not in json.dumps(result)
    assert os.listdir(tmp_path) == []


def test_unwritable_destination_fails(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_action({"report": sample_report(), "dest": str(blocker), "formats": ["json"]})
    assert result.get("failed") and result["msg"].startswith("Cannot write the reports to %s" % blocker)


def test_mode_option_sets_the_files_mode(tmp_path):
    result = run_action({"report": sample_report(), "dest": str(tmp_path), "formats": ["json"], "basename": "r", "mode": "0600"})
    assert not result.get("failed"), result
    assert {os.stat(path).st_mode & 0o7777 for path in result["files"].values()} == {0o600}


def test_a_bad_mode_fails_naming_the_option_before_writing(tmp_path):
    result = run_action({"report": sample_report(), "dest": str(tmp_path / "out"), "mode": "u=rw"})
    assert result["failed"] and result["msg"].startswith("Option mode: mode must be an octal file mode")
    assert not os.path.exists(tmp_path / "out")
