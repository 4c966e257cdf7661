# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-process info actions: when they run the module's code here, and that they answer exactly as the module does."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ansible.module_utils.common.parameters import remove_values
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import action_loader
from ansible.template import Templar

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import client as client_module
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import truncation_warning
from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_replica_task_session_info, query_info
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils import info_action
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.info_action import mask_secrets
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import connection_args, run_main, without_jmespath

CDP = "veeam.enterprise_manager.cdp_replica_task_session_info"
QUERY = "veeam.enterprise_manager.query_info"
NO_LOG = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def get_action(name, args, transport="local", async_val=0, environment=None, become=False):
    task = SimpleNamespace(args=dict(args), action=name, async_val=async_val, check_mode=False, environment=environment or [{}])
    connection = SimpleNamespace(transport=transport, _shell=SimpleNamespace(tmpdir=None))
    loader = DataLoader()
    action = action_loader.get(name, task=task, connection=connection, play_context=SimpleNamespace(become=become), loader=loader,
                               templar=Templar(loader=loader), shared_loader_obj=None)
    assert action is not None
    calls = []

    def module_path(module_name=None, task_vars=None, **kwargs):
        calls.append(module_name)
        return {"ran": "module"}

    action._execute_module = module_path
    return action, calls


def test_the_actions_use_the_modules_spec_and_run():
    for name, module in ((CDP, cdp_replica_task_session_info), (QUERY, query_info)):
        action, dummy = get_action(name, {})
        assert action.argument_spec is module.ARGUMENT_SPEC and type(action).module_run is module.run


def test_local_task_runs_in_process(em_sim):
    action, calls = get_action(CDP, connection_args(em_sim, vm_display_name="virt03-ubuntu01"))
    result = action.run(task_vars={})
    assert calls == [] and not result.get("failed"), result
    assert result["changed"] is False and result["count"] == 3 and len(result["sessions"]) == 3
    assert em_sim.state()["open_sessions"] == 0


@pytest.mark.parametrize("situation", [
    {"transport": "ssh"},
    {"become": True},
    {"async_val": 30},
    {"environment": [{"HTTPS_PROXY": "http://proxy:3128"}]},
])
def test_anything_but_a_plain_local_task_runs_the_module(em_sim, situation):
    action, calls = get_action(QUERY, connection_args(em_sim, type="CdpPolicy"), **situation)
    assert action.run(task_vars={}) == {"ran": "module"}
    assert calls == [QUERY] and em_sim.requests == []


def test_a_library_missing_on_the_controller_leaves_the_task_to_the_module(em_sim, monkeypatch):
    without_jmespath(monkeypatch)
    action, calls = get_action(QUERY, connection_args(em_sim, type="CdpPolicy", jmespath="[].name"))
    assert action.run(task_vars={}) == {"ran": "module"} and calls == [QUERY]
    # Without the jmespath option the controller does not need jmespath.
    action, calls = get_action(QUERY, connection_args(em_sim, type="CdpPolicy"))
    assert action.run(task_vars={})["count"] > 0 and calls == []
    monkeypatch.setattr(info_action, "HAS_REQUESTS", False)
    action, calls = get_action(QUERY, connection_args(em_sim, type="CdpPolicy"))
    assert action.run(task_vars={}) == {"ran": "module"} and calls == [QUERY]


@pytest.mark.parametrize("args, fragment", [
    ({"sort_order": "sideways"}, "sort_order"),
    ({"no_such_option": 1}, "no_such_option"),
])
def test_argument_errors_name_the_module(em_sim, args, fragment):
    action, calls = get_action(CDP, dict(connection_args(em_sim), **args))
    result = action.run(task_vars={})
    assert result["failed"] is True and fragment in result["msg"] and calls == []
    assert "plugins.action" not in result["msg"] and "ansible_collections" not in result["msg"]
    if fragment == "no_such_option":
        assert "(%s)" % CDP in result["msg"]
    assert em_sim.requests == []


def test_em_errors_become_failed_results_like_the_module(em_sim, capsys):
    args = dict(connection_args(em_sim, password="Not-The-Pa55word"), type="CdpPolicy")
    action, dummy = get_action(QUERY, args)
    result = action.run(task_vars={})
    code, module_result = run_main(query_info, args, capsys)
    assert code == 1 and result["failed"] is True and result["status"] == 401
    assert {key: result[key] for key in ("msg", "status", "failed")} == {key: module_result[key] for key in ("msg", "status", "failed")}
    assert "Not-The-Pa55word" not in json.dumps(result)


def test_invalid_input_fails_before_any_request(em_sim):
    action, dummy = get_action(CDP, connection_args(em_sim, page_size=0))
    result = action.run(task_vars={})
    assert result["failed"] is True and result["option"] == "page_size"
    assert em_sim.requests == []


def test_truncation_warns_like_the_module(em_sim):
    action, dummy = get_action(QUERY, connection_args(em_sim, type="CdpReplicaSession", max_records=1))
    result = action.run(task_vars={})
    assert result["truncated"] is True and result["count"] == 1
    # The module's run() warns through the module; here the same text becomes the result's warnings.
    assert result["warnings"] == [truncation_warning(result, 1)] and "max_records=1" in result["warnings"][0]


def test_secrets_are_masked_as_the_module_masks_them(em_sim, capsys):
    """A secret that reaches the result (here through the echoed filter) is masked exactly as AnsibleModule masks it."""
    args = connection_args(em_sim, filter='Reason=="%s"' % PASSWORD)
    action, dummy = get_action(CDP, args)
    result = action.run(task_vars={})
    code, module_result = run_main(cdp_replica_task_session_info, args, capsys)
    assert code == 0 and not result.get("failed")
    assert PASSWORD not in json.dumps(result) and PASSWORD not in json.dumps(module_result)
    assert result["filter"] == module_result["filter"] and "********" in result["filter"]


def test_session_ids_are_masked(em_sim):
    with client_module.EmClient(em_sim.config(), backoff_base=0) as owner:
        owner.ownership = client_module.Ownership.HANDED_OUT
        token = owner.logon()
    args = {"host": "127.0.0.1", "port": em_sim.port, "ca_path": em_sim.ca_file, "session_id": token, "type": "CdpPolicy",
            "filter": 'Name=="%s"' % token}
    action, dummy = get_action(QUERY, args)
    result = action.run(task_vars={})
    assert not result.get("failed"), result
    assert token not in json.dumps(result)
    # The logon this action made itself is masked too: its token reaches mask_secrets through register_secret.
    seen = []
    original = info_action.open_client

    def spying_open_client(options, warn=None, log=None, register_secret=None, **kwargs):
        def register(value):
            seen.append(value)
            register_secret(value)
        return original(options, warn=warn, log=log, register_secret=register, **kwargs)

    info_action.open_client, saved = spying_open_client, info_action.open_client
    try:
        action, dummy = get_action(QUERY, connection_args(em_sim, type="CdpPolicy"))
        result = action.run(task_vars={})
    finally:
        info_action.open_client = saved
    assert PASSWORD in seen and len(seen) >= 2 and not result.get("failed")
    assert not any(secret in json.dumps(result) for secret in seen)


@pytest.mark.parametrize("value, secret, expected", [
    ({"records": [{"name": "pw12"}]}, "pw12", {"records": [{"name": NO_LOG}]}),
    ({"records": [{"name": "a pw12 b", "n": 7}], "count": 1}, "pw12", {"records": [{"name": "a ******** b", "n": 7}], "count": 1}),
    ({"records": [{"name": "clean", "flag": True}]}, "pw12", {"records": [{"name": "clean", "flag": True}]}),
    ({"records": [{"size": 1234}]}, "1234", {"records": [{"size": NO_LOG}]}),
    ({"records": [{"size": 912345}]}, "1234", {"records": [{"size": NO_LOG}]}),
    ({"records": [{"nested": ({"deep": ["x pw12"]},)}]}, "pw12", {"records": [{"nested": [{"deep": ["x ********"]}]}]}),
])
def test_mask_secrets_masks_as_the_module_does(value, secret, expected):
    assert mask_secrets(value, {secret, None, ""}) == expected
    assert mask_secrets(value, {secret}) == remove_values(value, {secret})


def test_mask_secrets_sees_str_subclasses():
    class TaggedStr(str):
        pass

    assert mask_secrets({"filter": TaggedStr("x==pw12")}, {"pw12"}) == {"filter": "x==********"}


def test_mask_secrets_leaves_a_clean_result_untouched():
    result = {"records": [{"name": "clean"}]}
    assert mask_secrets(result, {"secret"}) is result
    assert mask_secrets(result, set()) is result
