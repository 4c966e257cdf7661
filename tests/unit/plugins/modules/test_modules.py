# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The query and session modules: argument parsing, env fallbacks, check mode, run() against the simulator."""

from __future__ import annotations

import json

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_replica_task_session_info, query_info, session
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD, USER
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import (
    FakeModule,
    connection_args,
    parse,
    run_main,
    without_jmespath,
)

CDP_SPEC = cdp_replica_task_session_info.ARGUMENT_SPEC
GENERIC_SPEC = query_info.ARGUMENT_SPEC


# -- argument specs ------------------------------------------------------------------------------


def test_cdp_argspec_defaults_and_raw_lists():
    params = parse(CDP_SPEC, {"host": "em", "username": "u", "password": "p", "vm_display_name": ["a,b", "c"], "state": "Completed"})
    assert params["port"] == 9398 and params["validate_certs"] is True and params["workers"] == 4
    assert params["page_size"] == 1000 and params["sort_order"] == "asc" and params["sort_by"] == "CreationTimeUTC"
    assert params["format"] == "entities" and params["response_format"] == "json" and params["include_links"] is False
    # raw keeps commas inside names (a list type would split "a,b").
    assert params["vm_display_name"] == ["a,b", "c"] and params["state"] == "Completed"


def test_env_fallbacks_apply(monkeypatch):
    monkeypatch.setenv("VEEAM_EM_HOST", "env.example.com")
    monkeypatch.setenv("VEEAM_EM_PORT", "9500")
    monkeypatch.setenv("VEEAM_EM_VALIDATE_CERTS", "no")
    monkeypatch.setenv("VEEAM_EM_WORKERS", "2")
    params = parse(CDP_SPEC, {"username": "u", "password": "p", "port": 9600})
    assert params["host"] == "env.example.com"
    assert params["port"] == 9600  # an explicit option beats the environment
    assert params["validate_certs"] is False and params["workers"] == 2


def test_argspec_rejects_bad_choices():
    result = ArgumentSpecValidator(CDP_SPEC).validate({"sort_order": "sideways"})
    assert result.error_messages and "sort_order" in result.error_messages[0]


# -- run() with a fake module --------------------------------------------------------------------


def test_cdp_run_against_the_simulator(em_sim):
    params = parse(CDP_SPEC, dict(connection_args(em_sim), page_size=5, vm_display_name=["virt03-ubuntu01"]))
    module = FakeModule(params)
    with EmClient(em_sim.config(), warn=module.warn, backoff_base=0) as client:
        result = cdp_replica_task_session_info.run(module, client)
    assert result["changed"] is False and result["count"] == 3 and result["truncated"] is False
    assert [record["uid"].rsplit(":", 1)[1][:8] for record in result["sessions"]] == ["787d754e", "0e9b9a27", "136e9284"]
    assert result["filter"] == 'VmDisplayName=="virt03-ubuntu01"'
    assert result["pages"] == 1 and result["total"] == 3  # one page, one request
    assert module.warnings == []


def test_cdp_run_warns_when_truncated(em_sim):
    module = FakeModule(parse(CDP_SPEC, dict(connection_args(em_sim), max_records=2, page_size=3)))
    with EmClient(em_sim.config(), backoff_base=0) as client:
        result = cdp_replica_task_session_info.run(module, client)
    assert result["count"] == 2 and result["truncated"] is True
    assert len(module.warnings) == 1 and "max_records=2" in module.warnings[0]


def test_query_info_run_with_projection(em_sim):
    module = FakeModule(parse(GENERIC_SPEC, dict(connection_args(em_sim), type="CdpPolicy", jmespath="[].name")))
    with EmClient(em_sim.config(), backoff_base=0) as client:
        result = query_info.run(module, client)
    assert result["records"] and all(isinstance(name, str) for name in result["records"])
    assert result["count"] == len(result["records"]) == em_sim.state()["records"]["CdpPolicy"]


def test_session_run_present_and_absent(em_sim):
    params = parse(session.ARGUMENT_SPEC, connection_args(em_sim))
    assert params["state"] == "present"
    module = FakeModule(params)
    with EmClient(em_sim.config(), register_secret=module.no_log_values.add, backoff_base=0) as client:
        result = session.run(module, client)
    assert result["session_id"] and result["user_name"] == USER and result["changed"] is False
    assert result["session_id"] not in module.no_log_values
    assert em_sim.state()["open_sessions"] == 1

    absent = FakeModule(dict(params, state="absent", session_id=result["session_id"]), check_mode=True)
    with EmClient(em_sim.config(session_id=result["session_id"]), backoff_base=0) as client:
        assert session.run(absent, client)["changed"] is True
    assert em_sim.state()["open_sessions"] == 1  # check mode only reports

    absent.check_mode = False
    with EmClient(em_sim.config(session_id=result["session_id"]), backoff_base=0) as client:
        assert session.run(absent, client)["changed"] is True
    assert em_sim.state()["open_sessions"] == 0


# -- main() end to end ---------------------------------------------------------------------------


def test_cdp_main_end_to_end_in_check_mode(em_sim, capsys):
    code, result = run_main(cdp_replica_task_session_info, dict(connection_args(em_sim), vm_display_name="virt03-ubuntu01",
                                                                _ansible_check_mode=True), capsys)
    assert code == 0 and not result.get("failed")
    assert result["count"] == 3 and result["changed"] is False
    assert PASSWORD not in json.dumps(result)
    assert em_sim.state()["open_sessions"] == 0


def test_cdp_main_uses_environment_fallbacks(em_sim, capsys, monkeypatch):
    for name, value in (("HOST", "127.0.0.1"), ("PORT", str(em_sim.port)), ("USERNAME", USER), ("PASSWORD", PASSWORD),
                        ("CA_PATH", em_sim.ca_file), ("WORKERS", "3")):
        monkeypatch.setenv("VEEAM_EM_" + name, value)
    code, result = run_main(cdp_replica_task_session_info, {"created_after": "2021-06-15", "created_before": "2021-06-16"}, capsys)
    assert code == 0 and result["count"] == 3
    assert result["filter"] == 'CreationTimeUTC>="2021-06-15T00:00:00Z";CreationTimeUTC<="2021-06-16T00:00:00Z"'


def test_main_reports_invalid_input_before_any_request(em_sim, capsys):
    code, result = run_main(cdp_replica_task_session_info, dict(connection_args(em_sim), page_size=0), capsys)
    assert code == 1 and result["failed"] is True
    assert result["option"] == "page_size" and "page_size" in result["msg"]
    assert em_sim.requests == []


def test_main_reports_auth_errors_without_the_password(em_sim, capsys):
    code, result = run_main(query_info, dict(connection_args(em_sim, password="Not-The-Pa55word"), type="CdpPolicy"), capsys)
    assert code == 1 and result["failed"] is True and result["status"] == 401
    assert "Not-The-Pa55word" not in json.dumps(result)
    assert em_sim.state()["open_sessions"] == 0


def test_session_main_present_then_absent(em_sim, capsys):
    code, result = run_main(session, connection_args(em_sim), capsys)
    assert code == 0 and result["changed"] is False
    token = result["session_id"]
    assert token and "*" not in token and result["user_name"] == USER
    assert em_sim.state()["open_sessions"] == 1

    code, result = run_main(query_info, {"host": "127.0.0.1", "port": em_sim.port, "ca_path": em_sim.ca_file, "session_id": token,
                                         "type": "CdpReplicaSession", "max_records": 1}, capsys)
    assert code == 0 and result["count"] == 1 and result["truncated"] is True
    assert "max_records=1" in json.dumps(result), result

    absent = {"host": "127.0.0.1", "port": em_sim.port, "ca_path": em_sim.ca_file, "session_id": token, "state": "absent"}
    code, result = run_main(session, dict(absent, _ansible_check_mode=True), capsys)
    assert code == 0 and result["changed"] is True
    assert em_sim.state()["open_sessions"] == 1
    code, result = run_main(session, absent, capsys)
    assert code == 0 and result["changed"] is True
    assert em_sim.state()["open_sessions"] == 0


def test_session_absent_needs_a_session_id(em_sim, capsys):
    code, result = run_main(session, {"host": "127.0.0.1", "port": em_sim.port, "ca_path": em_sim.ca_file, "state": "absent"}, capsys)
    assert code == 1 and result["option"] == "session_id"
    assert em_sim.requests == []


def test_session_state_choices_come_from_the_module():
    result = ArgumentSpecValidator(session.ARGUMENT_SPEC).validate({"state": "gone"})
    assert result.error_messages and "state" in result.error_messages[0]


# -- libraries are checked where they are used ---------------------------------------------------


def test_session_main_works_without_jmespath(em_sim, capsys, monkeypatch):
    without_jmespath(monkeypatch)
    code, result = run_main(session, connection_args(em_sim), capsys)
    assert code == 0 and not result.get("failed") and result["session_id"]
    code, result = run_main(session, {"host": "127.0.0.1", "port": em_sim.port, "ca_path": em_sim.ca_file,
                                      "session_id": result["session_id"], "state": "absent"}, capsys)
    assert code == 0 and result["changed"] is True
    assert em_sim.state()["open_sessions"] == 0


def test_info_main_needs_jmespath_only_for_the_jmespath_option(em_sim, capsys, monkeypatch):
    without_jmespath(monkeypatch)
    code, result = run_main(cdp_replica_task_session_info, dict(connection_args(em_sim), vm_display_name="virt03-ubuntu01"), capsys)
    assert code == 0 and result["count"] == 3
    before = len(em_sim.requests)
    code, result = run_main(cdp_replica_task_session_info, dict(connection_args(em_sim), jmespath="[].uid"), capsys)
    assert code == 1 and result["option"] == "jmespath" and "pip install jmespath" in result["msg"]
    assert len(em_sim.requests) == before  # failed before any request


def test_main_without_requests_fails_before_any_request(em_sim, capsys, monkeypatch):
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils import runner
    monkeypatch.setattr(runner, "HAS_REQUESTS", False)
    code, result = run_main(query_info, dict(connection_args(em_sim), type="CdpPolicy"), capsys)
    assert code == 1 and "requests" in result["msg"] and "pip install requests" in result["msg"]
    assert PASSWORD not in result["msg"] and em_sim.requests == []
