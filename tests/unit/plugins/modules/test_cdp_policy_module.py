# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cdp_policy and cdp_policy_info run() against the in-process simulator, and main() argument checks."""

from __future__ import annotations

import threading

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.cdp_policy import PolicySelectionError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils import em_task
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.em_task import TaskFailedError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import ApiError, EmError, InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_policy, cdp_policy_info
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.server import QueryEngine
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.test_modules import FakeModule, run_main

OPERATOR = ("EMLAB\\operator", "0perator!pass")
POLICY_SPEC = cdp_policy.ARGUMENT_SPEC
INFO_SPEC = cdp_policy_info.ARGUMENT_SPEC


@pytest.fixture
def sim(em_sim, monkeypatch):
    # Poll EM's tasks quickly: the simulator's tasks advance per poll, not with time.
    monkeypatch.setattr(em_task, "POLL_FIRST", 0.01)
    monkeypatch.setattr(em_task, "POLL_MAX", 0.05)
    em_sim.server.sim.add_user(*OPERATOR)
    em_sim.control("POST", "/_sim/policy_tasks", {"running_polls": 1})
    return em_sim


def params_of(spec, **values):
    result = ArgumentSpecValidator(spec).validate(values)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def run_policy(sim, check_mode=False, user=OPERATOR, warnings=None, **options):
    module = FakeModule(params_of(POLICY_SPEC, host="127.0.0.1", **options), check_mode=check_mode)
    with EmClient(sim.config(username=user[0], password=user[1]), warn=module.warn, backoff_base=0) as client:
        result = cdp_policy.run(module, client)
    if warnings is not None:
        warnings.extend(module.warnings)
    return result


def policies(sim, **filters):
    module = FakeModule(params_of(INFO_SPEC, host="127.0.0.1", **filters))
    with EmClient(sim.config(), backoff_base=0) as client:
        return cdp_policy_info.run(module, client)


def by_name(sim, name):
    return next(policy for policy in policies(sim)["policies"] if policy["name"] == name)


def changes_requested(sim):
    return [(req["method"], req["path"], req["query"]) for req in sim.requests if req["method"] in ("PUT", "POST")
            and req["path"].startswith("/api/cdpPolicies/")]


# -- cdp_policy_info -----------------------------------------------------------------------------


def test_info_lists_every_policy_normalised(sim):
    result = policies(sim)
    assert result["changed"] is False and result["count"] == 8 == len(result["policies"])
    legacy = next(policy for policy in result["policies"] if policy["name"] == "CDP Legacy (disabled)")
    assert legacy["enabled"] is False and legacy["rpo_seconds"] == 60 and legacy["next_run"] is None
    assert legacy["rpo_warning"] == {"enabled": False, "threshold_seconds": 120}
    assert legacy["rpo_error"] == {"enabled": True, "threshold_seconds": 240}
    assert legacy["platform"] == "VMware" and legacy["backup_server"] == "backupsrv31.lab.local"
    assert [policy["name"] for policy in result["policies"]] == sorted((policy["name"] for policy in result["policies"]), key=str.casefold)


def test_info_filters_by_name_server_and_state(sim):
    assert [p["name"] for p in policies(sim, enabled=False)["policies"]] == ["CDP Legacy (disabled)"]
    assert policies(sim, name=["CDP Policy", "CDP Tier2 Web"])["count"] == 2
    result = policies(sim, backup_server_name=["backupsrv29.tech.local"], enabled=True, response_format="xml")
    assert {p["backup_server"] for p in result["policies"]} == {"backupsrv29.tech.local"} and result["count"] == 3
    queries = [req["query"] for req in sim.query_requests()]
    assert any("BackupServerName%3D%3D%22backupsrv29.tech.local%22" in query for query in queries)


def test_info_json_and_xml_agree(sim):
    assert policies(sim, response_format="json")["policies"] == policies(sim, response_format="xml")["policies"]


# -- cdp_policy: changes, idempotence, check and diff mode ---------------------------------------


def test_check_mode_reports_and_changes_nothing(sim):
    result = run_policy(sim, check_mode=True, name="CDP Legacy (disabled)", enabled=True, rpo="15s", rpo_warning={"enabled": True})
    assert result["changed"] is True and result["tasks"] == []
    assert result["changes"] == {"enabled": True, "rpo_seconds": 15, "rpo_warning": {"enabled": True}}
    assert result["diff"] == {"before": {"enabled": False, "rpo_seconds": 60, "rpo_warning": {"enabled": False}},
                              "after": {"enabled": True, "rpo_seconds": 15, "rpo_warning": {"enabled": True}}}
    assert result["policy"]["enabled"] is False and changes_requested(sim) == []
    assert by_name(sim, "CDP Legacy (disabled)")["rpo_seconds"] == 60


@pytest.mark.parametrize("body_format", ["xml", "json"])
def test_change_waits_for_the_tasks_and_second_run_changes_nothing(sim, body_format):
    options = dict(name="CDP Legacy (disabled)", enabled=True, rpo="2m", rpo_warning={"enabled": True, "threshold": "30s"},
                   rpo_error={"threshold": 90}, body_format=body_format)
    result = run_policy(sim, **options)
    assert result["changed"] is True
    assert [(task["operation"], task["state"], task["success"]) for task in result["tasks"]] == [
        ("EditCdpPolicy", "Finished", True), ("UpdateCdpPolicy", "Finished", True)]
    policy = result["policy"]
    assert policy["enabled"] is True and policy["rpo_seconds"] == 120
    assert policy["rpo_warning"] == {"enabled": True, "threshold_seconds": 30} and policy["rpo_error"] == {"enabled": True, "threshold_seconds": 90}
    assert policy == by_name(sim, "CDP Legacy (disabled)")
    put, post = changes_requested(sim)
    assert put[0] == "PUT" and post == ("POST", put[1], "action=enable")
    content_types = [dict(req["headers"]).get("Content-Type") for req in sim.requests if req["method"] == "PUT"]
    assert content_types == ["application/%s" % body_format]
    again = run_policy(sim, **options)
    assert again["changed"] is False and again["changes"] == {} and again["tasks"] == [] and len(changes_requested(sim)) == 2
    assert again["diff"]["before"] == again["diff"]["after"]


def test_only_the_options_set_are_sent(sim):
    result = run_policy(sim, name="CDP Tier2 Web", rpo_error={"enabled": True})
    assert result["changes"] == {"rpo_error": {"enabled": True}} and len(result["tasks"]) == 1
    after = result["policy"]
    assert after["rpo_error"] == {"enabled": True, "threshold_seconds": 3600}
    assert after["rpo_seconds"] == 900 and after["rpo_warning"] == {"enabled": False, "threshold_seconds": 1800} and after["enabled"] is True


def test_disable_by_uid(sim):
    uid = by_name(sim, "CDP Policy")["uid"]
    result = run_policy(sim, uid=uid.rsplit(":", 1)[1], enabled=False)
    assert result["changed"] is True and result["policy"]["enabled"] is False and result["policy"]["next_run"] is None
    assert [task["operation"] for task in result["tasks"]] == ["UpdateCdpPolicy"]
    assert changes_requested(sim)[0][2] == "action=disable"


def test_no_setting_only_reads_and_warns(sim):
    warnings = []
    result = run_policy(sim, name="CDP Policy", warnings=warnings)
    assert result["changed"] is False and result["changes"] == {} and result["policy"]["rpo_seconds"] == 15
    assert len(warnings) == 1 and "only read" in warnings[0] and changes_requested(sim) == []


def test_wait_false_returns_once_em_accepted(sim):
    result = run_policy(sim, name="CDP Tier2 Web", enabled=False, wait=False)
    assert result["changed"] is True and result["tasks"][0]["state"] == "Running"
    assert result["policy"]["enabled"] is True  # EM has not carried it out yet


# -- cdp_policy: selection -----------------------------------------------------------------------


def test_unknown_policy_lists_the_candidates(sim):
    with pytest.raises(PolicySelectionError) as info:
        run_policy(sim, name="CDP Nope", enabled=True)
    assert "No CDP policy matches name 'CDP Nope'" in info.value.message
    assert "CDP Tier1 Apps on backupsrv31.lab.local (urn:veeam:CdpPolicy:" in info.value.message
    assert len(info.value.to_result()["candidates"]) == 8 and changes_requested(sim) == []


def test_ambiguous_name_fails_until_the_backup_server_is_given(sim):
    engine_sim = sim.server.sim
    with engine_sim.lock:
        engine_sim.dataset.policies[1]["name"] = "CDP Policy"  # now on backupsrv29 and backupsrv30
        engine_sim.engine = QueryEngine(engine_sim.dataset)
        engine_sim.renderers = {}
    with pytest.raises(PolicySelectionError) as info:
        run_policy(sim, name="CDP Policy", rpo="30s")
    assert "2 CDP policies match name 'CDP Policy'" in info.value.message and "Set backup_server_name" in info.value.message
    assert "backupsrv29.tech.local" in info.value.message and changes_requested(sim) == []
    result = run_policy(sim, name="CDP Policy", backup_server_name=engine_sim.dataset.servers[0]["name"], rpo="30s")
    assert result["policy"]["backup_server"] == engine_sim.dataset.servers[0]["name"] and result["policy"]["rpo_seconds"] == 30


def test_bad_input_fails_before_any_request(sim):
    with pytest.raises(InvalidInputError) as info:
        run_policy(sim, name="CDP Policy", rpo="fast")
    assert info.value.option == "rpo"
    with pytest.raises(InvalidInputError) as info:
        run_policy(sim, name="CDP Policy", wait_timeout=0)
    assert info.value.option == "wait_timeout"
    assert sim.requests == []


# -- cdp_policy: failures ------------------------------------------------------------------------


def test_refused_setting_fails_with_ems_message_and_changes_nothing(sim):
    with pytest.raises(ApiError) as info:
        run_policy(sim, name="CDP Legacy (disabled)", enabled=True, rpo="2h")
    assert info.value.status == 400 and "from 2 seconds to 60 minutes" in info.value.message
    assert [method for method, dummy, dummy2 in changes_requested(sim)] == ["PUT"]  # the enable action was never sent
    legacy = by_name(sim, "CDP Legacy (disabled)")
    assert legacy["enabled"] is False and legacy["rpo_seconds"] == 60


def test_failed_task_fails_with_ems_message(sim):
    sim.control("POST", "/_sim/policy_tasks", {"fail": [{"policy": "CDP Tier1 Apps", "message": "Backup server backupsrv31 is not available"}]})
    with pytest.raises(TaskFailedError) as info:
        run_policy(sim, name="CDP Tier1 Apps", rpo="60s", enabled=False)
    assert "Backup server backupsrv31 is not available" in info.value.message
    tier1 = by_name(sim, "CDP Tier1 Apps")
    assert tier1["rpo_seconds"] == 300 and tier1["enabled"] is True
    assert [method for method, dummy, dummy2 in changes_requested(sim)] == ["PUT"]


def test_failure_after_a_finished_step_names_that_step(sim):
    # The first task (the PUT) succeeds; the enable action's task fails.
    sim.control("POST", "/_sim/policy_tasks", {"fail": []})
    original = sim.server.sim.policy_service.new_task

    def second_fails(operation, index, changes):
        task = original(operation, index, changes)
        if operation == "UpdateCdpPolicy":
            task.failure = "The policy is locked by another operation"
        return task

    sim.server.sim.policy_service.new_task = second_fails
    with pytest.raises(TaskFailedError) as info:
        run_policy(sim, name="CDP Legacy (disabled)", enabled=True, rpo="30s")
    assert "locked by another operation" in info.value.message and "Already finished for this policy: task task-1 (EditCdpPolicy)" in info.value.message
    assert by_name(sim, "CDP Legacy (disabled)")["rpo_seconds"] == 30


def test_read_only_account_gets_a_clear_error_and_nothing_changes(sim):
    with pytest.raises(ApiError) as info:
        run_policy(sim, user=("EMLAB\\auditor", "S3cret!pass"), name="CDP Legacy (disabled)", enabled=True, rpo="30s")
    assert info.value.status == 403 and "HTTP 403" in info.value.message and "Access denied" in info.value.message
    legacy = by_name(sim, "CDP Legacy (disabled)")
    assert legacy["enabled"] is False and legacy["rpo_seconds"] == 60
    assert sim.server.sim.policy_service.tasks == {}


def test_expired_session_during_the_wait_logs_on_again(sim):
    sim.control("POST", "/_sim/policy_tasks", {"running_polls": 2})
    sim.faults({"on": "task", "action": "expire_session", "after": 1})
    result = run_policy(sim, name="CDP Tier2 Web", rpo_warning={"enabled": True})
    assert result["changed"] is True and result["policy"]["rpo_warning"]["enabled"] is True
    state = sim.state()
    # One logon, one more after the expiry in the middle of the wait, both ended: the same task was followed to the end.
    assert state["faults_fired"] == 1 and state["logons"] == 2 and state["open_sessions"] == 0
    assert [task["operation"] for task in result["tasks"]] == ["EditCdpPolicy"]


def test_concurrent_changes_to_two_policies(sim):
    sim.control("POST", "/_sim/policy_tasks", {"running_polls": 3})
    results, errors = {}, []

    def change(name, rpo):
        try:
            results[name] = run_policy(sim, name=name, rpo=rpo, rpo_error={"enabled": True})
        except EmError as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=change, args=("CDP Tier2 Web", "45s")), threading.Thread(target=change, args=("CDP Tier0 Databases", "20s"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert results["CDP Tier2 Web"]["policy"]["rpo_seconds"] == 45 and results["CDP Tier0 Databases"]["policy"]["rpo_seconds"] == 20
    after = policies(sim)["policies"]
    assert {p["name"]: (p["rpo_seconds"], p["rpo_error"]["enabled"]) for p in after if p["name"] in results} == {
        "CDP Tier2 Web": (45, True), "CDP Tier0 Databases": (20, True)}
    assert by_name(sim, "CDP Tier1 Apps")["rpo_seconds"] == 300


# -- main() --------------------------------------------------------------------------------------


def test_main_needs_exactly_one_selector(sim, capsys):
    code, result = run_main(cdp_policy, {"host": "127.0.0.1", "port": sim.port, "username": OPERATOR[0], "password": OPERATOR[1],
                                         "ca_path": sim.ca_file, "enabled": True}, capsys)
    assert code == 1 and "one of the following is required: uid, name" in result["msg"]
    code, result = run_main(cdp_policy, {"host": "127.0.0.1", "uid": "x", "name": "y"}, capsys)
    assert code == 1 and "mutually exclusive" in result["msg"]


def test_main_returns_diff_and_failures_as_json(sim, capsys):
    args = {"host": "127.0.0.1", "port": sim.port, "username": OPERATOR[0], "password": OPERATOR[1], "ca_path": sim.ca_file,
            "name": "CDP Tier2 Web", "rpo": "10m", "_ansible_check_mode": True, "_ansible_diff": True}
    code, result = run_main(cdp_policy, args, capsys)
    assert code == 0 and result["changed"] is True and result["diff"]["after"] == {"rpo_seconds": 600}
    code, result = run_main(cdp_policy, dict(args, name="CDP Nope"), capsys)
    assert code == 1 and result["failed"] is True and "No CDP policy matches" in result["msg"] and result["candidates"]
