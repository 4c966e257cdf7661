# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit degrades instead of giving up (issue 16 item 3): EM answering the CdpPolicy or CdpReplicaSession query
with an error still gives every VM's verdict from the task sessions, and the report says what EM answered."""

from __future__ import annotations

import time

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.audit import policy_data_text, prepare_audit, run_audit
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports, is_unreachable_entry, unreachable_entry
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import ApiError
from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_compliance_info
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.render import error_body
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.server import Response
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import FakeModule, connection_args, parse, run_main
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_audit import audit_params, run

ACCESS_DENIED = "Access denied. The user has no permission to read CDP policies."


def refuse(sim, query_type, status=403, message=ACCESS_DENIED, delay=0.0):
    """Answer every query of query_type with EM's Error body (or, with delay, only after delay seconds)."""
    inner = sim.server.sim.handle

    def handle(req):
        if req.path == "/api/query" and "type=%s&" % query_type in req.query + "&":
            if delay:
                time.sleep(delay)
            body, content_type = error_body(status, message, "Forbidden", req.wants_json)
            return Response(status, body, content_type)
        return inner(req)

    sim.server.sim.handle = handle


@pytest.fixture
def full(em_sim):
    dummy, result = run(em_sim)
    assert result["report"]["evidence"]["policy_data"] == {"available": True, "error": None}
    assert result["report"]["vms"] and result["counts"]["policies"] > 0
    return result


@pytest.mark.parametrize("query_type, status", [("CdpPolicy", 403), ("CdpPolicy", 400), ("CdpReplicaSession", 404)])
def test_policy_query_error_still_judges_every_vm(em_sim, full, query_type, status):
    refuse(em_sim, query_type, status)
    dummy, result = run(em_sim, retries=0)
    report = result["report"]
    assert [vm["name"] for vm in report["vms"]] == [vm["name"] for vm in full["report"]["vms"]]
    assert result["counts"]["task_sessions"] == full["counts"]["task_sessions"]
    error = report["evidence"]["policy_data"]["error"]
    assert report["evidence"]["policy_data"]["available"] is False and error == {"status": status, "message": ACCESS_DENIED}
    note = "policy data unavailable: %d %s" % (status, ACCESS_DENIED)
    assert report["evidence"]["policy_data"]["note"] == note and all(vm["policy_data"] == note for vm in report["vms"])
    assert "policy_data_unavailable" in report["data"]["issues"] and report["data"]["complete"] is False
    assert report["verdict"] == "incomplete"
    # Judged with the rule defaults: no VM has a policy RPO when policies could not be read.
    if query_type == "CdpPolicy":
        assert all(vm["policy"] is None for vm in report["vms"])
    assert em_sim.state()["open_sessions"] == 0


def test_policy_data_required_fails_with_ems_status_and_message(em_sim):
    refuse(em_sim, "CdpPolicy")
    with pytest.raises(ApiError) as info:
        run(em_sim, policy_data="required", retries=0)
    assert info.value.status == 403 and info.value.em_message == ACCESS_DENIED
    assert em_sim.state()["open_sessions"] == 0


def test_policy_query_timeout_degrades_too(em_sim, full):
    refuse(em_sim, "CdpPolicy", delay=1.5)
    em_sim_config = em_sim.config(workers=2, retries=0)
    em_sim_config.timeout = 1
    with EmClient(em_sim_config, backoff_base=0) as client:
        result = run_audit(client, prepare_audit(audit_params()))
    error = result["report"]["evidence"]["policy_data"]["error"]
    assert error["status"] is None and "timed out" in error["message"]
    assert len(result["report"]["vms"]) == len(full["report"]["vms"])


def test_task_session_errors_still_fail(em_sim):
    refuse(em_sim, "CdpReplicaTaskSession", 403)
    with pytest.raises(ApiError):
        run(em_sim, retries=0)


def test_policy_data_text():
    assert policy_data_text({"status": 403, "message": "Access denied."}) == "403 Access denied."
    assert policy_data_text({"status": None, "message": "timed out"}) == "timed out"


def test_module_warns_and_returns_the_report(em_sim, capsys):
    refuse(em_sim, "CdpPolicy")
    module = FakeModule(parse(cdp_compliance_info.ARGUMENT_SPEC, dict(connection_args(em_sim), now="2025-06-20T12:00:00Z")))
    with EmClient(em_sim.config(), warn=module.warn, backoff_base=0) as client:
        result = cdp_compliance_info.run(module, client)
    assert result["report"]["evidence"]["policy_data"]["error"]["status"] == 403
    assert any("Policy data unavailable (403 %s)" % ACCESS_DENIED in warning for warning in module.warnings)
    strict = dict(connection_args(em_sim), now="2025-06-20T12:00:00Z", retries=0, policy_data="required")
    code, result = run_main(cdp_compliance_info, strict, capsys)
    assert code == 1 and result["status"] == 403 and ACCESS_DENIED in result["msg"]


# -- an EM that answered with an error is not "unreachable" -----------------------------------------


def test_an_em_that_answered_is_an_error_entry_not_unreachable():
    answered = unreachable_entry("https://em1:9398", "HTTP 403: Access denied.", http_status=403)
    silent = unreachable_entry("https://em2:9398", "connection refused")
    assert answered["status"] == "error" and answered["http_status"] == 403 and silent["status"] == "unreachable"
    assert is_unreachable_entry(answered) and is_unreachable_entry({"em_host": "em3", "status": "error", "error": "x"})
    # A failed module result carries EM's HTTP status as status (errors.ApiError.to_result).
    failed_module = {"failed": True, "msg": "GET /api/query answered HTTP 500: Deadlock victim", "status": 500}
    combined = combine_reports([answered, silent, failed_module, {"failed": True, "msg": "timed out"}])
    assert [(em["status"], em.get("http_status")) for em in combined["ems"]] == [
        ("error", 403), ("unreachable", None), ("error", 500), ("unreachable", None)]
    assert combined["summary"]["ems_unreachable"] == 2 and combined["summary"]["ems_error"] == 2
    assert combined["data"]["issues"][:2] == ["error:https://em1:9398", "unreachable:https://em2:9398"]
    assert combined["verdict"] == "incomplete"
    messages = [item["message"] for item in combined["findings"]]
    assert "EM https://em1:9398 answered with an error: HTTP 403: Access denied." in messages
    assert "EM https://em2:9398 was unreachable: connection refused" in messages
