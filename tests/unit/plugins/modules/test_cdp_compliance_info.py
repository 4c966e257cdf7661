# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit module: its argument spec, run() against the simulator, main() end to end."""

from __future__ import annotations

import json

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_compliance_info
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import FIXED_NOW, PASSWORD
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import (
    FakeModule,
    connection_args,
    parse,
    run_main,
    without_jmespath,
)

WINDOW = {"start": "2025-06-19T12:00:00Z", "end": "2025-06-20T12:00:00Z"}


def audit(sim, **options):
    """run() with a fake module; returns (result, module)."""
    module = FakeModule(parse(cdp_compliance_info.ARGUMENT_SPEC, dict(connection_args(sim), now=FIXED_NOW, **options)))
    with EmClient(sim.config(), warn=module.warn, backoff_base=0) as client:
        result = cdp_compliance_info.run(module, client)
    return result, module


def test_argument_spec_defaults():
    params = parse(cdp_compliance_info.ARGUMENT_SPEC, {"host": "em"})
    assert (params["window_start"], params["window_end"], params["include_policies"]) == ("-24h", "now", True)
    assert (params["page_size"], params["response_format"], params["max_records"]) == (1000, "json", None)
    # The audit takes no query-module options it would ignore.
    assert "jmespath" not in params and "sort_by" not in params and "format" not in params


def test_run_audits_the_window(em_sim):
    result, module = audit(em_sim)
    report = result["report"]
    assert result["changed"] is False and result["truncated"] is False and module.warnings == []
    assert result["window"] == WINDOW and report["window"]["start"] == WINDOW["start"] and report["window"]["end"] == WINDOW["end"]
    assert result["counts"]["policies"] == em_sim.state()["records"]["CdpPolicy"]
    assert result["counts"]["task_sessions"] == report["summary"]["sessions"] > 0
    assert report["data"]["complete"] is True and report["verdict"] in ("compliant", "warning", "non_compliant")
    assert report["summary"]["vms"] == len(report["vms"]) > 0
    assert report["evidence"]["query"]["type"] == "CdpReplicaTaskSession"
    assert result["pages"] == report["evidence"]["query_requests"]
    assert em_sim.state()["open_sessions"] == 0


def test_run_scopes_to_a_vm_and_reports_missing_expected_vms(em_sim):
    full, dummy = audit(em_sim)
    vm = full["report"]["vms"][0]["name"]
    result, dummy = audit(em_sim, vm_display_name=vm, expected_vms=["no-such-vm"])
    report = result["report"]
    assert 'VmDisplayName=="%s"' % vm in report["evidence"]["query"]["filter"]
    assert {entry["name"] for entry in report["vms"]} == {vm, "no-such-vm"}
    missing = [entry for entry in report["vms"] if entry["name"] == "no-such-vm"][0]
    assert missing["status"] == "non_compliant" and missing["sessions"] == 0
    assert any(finding["code"] == "no_sessions" for finding in missing["findings"])


def test_run_without_policies_reads_only_task_sessions(em_sim):
    result, dummy = audit(em_sim, include_policies=False)
    assert result["counts"]["policies"] == 0 and result["counts"]["policy_sessions"] == 0
    assert result["counts"]["task_sessions"] > 0
    assert {request["query"].split("type=", 1)[1].split("&", 1)[0] for request in em_sim.query_requests()} == {"CdpReplicaTaskSession"}


def test_run_warns_and_marks_the_report_incomplete_when_truncated(em_sim):
    result, module = audit(em_sim, max_records=1)
    assert result["truncated"] is True and result["counts"]["task_sessions"] == 1
    assert result["report"]["verdict"] == "incomplete" and result["report"]["data"]["truncated"] is True
    assert module.warnings == ["Stopped at max_records=1 task sessions: the report is incomplete."]


@pytest.mark.parametrize("options, option", [
    # The engine validates the window; the error names the module's option, not the engine's window key.
    ({"window_start": "yesterday"}, "window_start"),
    ({"page_size": 5000}, "page_size"),
    ({"max_records": 0}, "max_records"),
    ({"vm_display_name": []}, "vm_display_name"),
])
def test_run_rejects_bad_input_before_any_request(em_sim, options, option):
    with pytest.raises(InvalidInputError) as info:
        audit(em_sim, **options)
    assert info.value.option == option
    assert em_sim.requests == []


def test_main_end_to_end_without_jmespath(em_sim, capsys, monkeypatch):
    """The audit never uses jmespath, so a Python without it must still run it."""
    without_jmespath(monkeypatch)
    code, result = run_main(cdp_compliance_info, dict(connection_args(em_sim), now=FIXED_NOW, _ansible_check_mode=True), capsys)
    assert code == 0 and not result.get("failed"), result
    assert result["changed"] is False and result["report"]["kind"] == "cdp_compliance_report"
    assert PASSWORD not in json.dumps(result)
    assert em_sim.state()["open_sessions"] == 0


def test_main_reports_auth_errors(em_sim, capsys):
    code, result = run_main(cdp_compliance_info, dict(connection_args(em_sim, password="Not-The-Pa55word"), now=FIXED_NOW), capsys)
    assert code == 1 and result["failed"] is True and result["status"] == 401
    assert "Not-The-Pa55word" not in json.dumps(result)


def test_the_evidence_records_the_negotiated_api_version_and_the_run_s_provenance(em_sim):
    """The first-hour review: "API version: latest" is no evidence; the version the session runs is."""
    job = {"id": 4711, "template": "CDP audit", "launched_by": "auditor"}
    result, dummy = audit(em_sim, title="CDP audit Q4 2026", period="2026-Q4", awx_job=job)
    evidence = result["report"]["evidence"]
    assert evidence["api_version"] == "v1_7" and evidence["api_version_requested"] == "latest"
    assert evidence["api_versions_supported"] == ["v1_5", "v1_6", "v1_7"]
    # The simulator, like EM's documented API, states no product version or build: recorded as unknown, not guessed.
    assert evidence["em_version"] is None and evidence["em_build"] is None and evidence["provenance_error"] is None
    assert evidence["awx_job"] == {"id": "4711", "template": "CDP audit", "launched_by": "auditor"}
    assert (evidence["title"], evidence["period"]) == ("CDP audit Q4 2026", "2026-Q4")
    assert evidence["controller"]
    assert em_sim.state()["open_sessions"] == 0


def test_without_labels_the_evidence_says_so(em_sim):
    evidence = audit(em_sim)[0]["report"]["evidence"]
    assert (evidence["awx_job"], evidence["title"], evidence["period"]) == (None, None, None)


@pytest.mark.parametrize("options, option", [({"awx_job": {"id": 1, "job": 2}}, "awx_job.job"), ({"title": "Q4\n2026"}, "title")])
def test_bad_labels_are_refused_before_any_request(em_sim, options, option):
    before = em_sim.state()["logons"]
    with pytest.raises(InvalidInputError) as info:
        audit(em_sim, **options)
    assert info.value.option == option and em_sim.state()["logons"] == before
