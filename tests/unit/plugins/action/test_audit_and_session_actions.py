# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-process actions of cdp_compliance_info and session: the module's run() here, masked, in check mode, logged off."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import action_loader
from ansible.template import Templar

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import Interrupted
from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_compliance_info, session
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import FIXED_NOW, PASSWORD
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import connection_args, run_main

AUDIT = "veeam.enterprise_manager.cdp_compliance_info"
SESSION = "veeam.enterprise_manager.session"


def get_action(name, args, transport="local", check_mode=False, become=False):
    task = SimpleNamespace(args=dict(args), action=name, async_val=0, check_mode=check_mode, environment=[{}])
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


def audit_args(sim, **extra):
    return connection_args(sim, now=FIXED_NOW, window_start="-3d", **extra)


def sessions_of(sim):
    state = sim.state()
    return state["logons"], state["logoffs"], state["open_sessions"]


def test_the_actions_use_the_modules_spec_run_and_check_mode():
    for name, module in ((AUDIT, cdp_compliance_info), (SESSION, session)):
        action, dummy = get_action(name, {})
        assert action.argument_spec is module.ARGUMENT_SPEC and type(action).module_run is module.run
        assert action.module_check_mode is module.SUPPORTS_CHECK_MODE


def test_the_audit_runs_in_process_and_logs_off(em_sim, capsys):
    action, calls = get_action(AUDIT, audit_args(em_sim))
    result = action.run(task_vars={})
    assert calls == [] and not result.get("failed"), result
    assert sessions_of(em_sim) == (1, 1, 0)
    code, module_result = run_main(cdp_compliance_info, audit_args(em_sim), capsys)
    assert code == 0
    # The same audit as the module's, apart from when it was generated.
    for report in (result["report"], module_result["report"]):
        report.pop("generated_at", None)
    assert result["report"]["vms"] == module_result["report"]["vms"] and result["report"]["verdict"] == module_result["report"]["verdict"]
    assert result["counts"] == module_result["counts"] and result["changed"] is False


def test_no_log_option_values_are_masked_as_the_module_masks_them(em_sim, capsys):
    """history_password is a no_log option the client never sees: its value is masked wherever it shows (here in a label)."""
    secret = "hp-Secret-42"
    args = audit_args(em_sim, title="CDP audit %s" % secret, history_password=secret)
    result = get_action(AUDIT, args)[0].run(task_vars={})
    code, module_result = run_main(cdp_compliance_info, args, capsys)
    assert code == 0 and not result.get("failed"), result
    assert secret not in json.dumps(result) and secret not in json.dumps(module_result)
    assert result["report"]["evidence"]["title"] == module_result["report"]["evidence"]["title"] == "CDP audit ********"
    assert PASSWORD not in json.dumps(result)


def test_em_errors_become_failed_results_without_the_password(em_sim, capsys):
    args = audit_args(em_sim, password="Not-The-Pa55word")
    result = get_action(AUDIT, args)[0].run(task_vars={})
    code, module_result = run_main(cdp_compliance_info, args, capsys)
    assert code == 1 and result["failed"] is True and result["status"] == 401
    assert result["msg"] == module_result["msg"] and "Not-The-Pa55word" not in json.dumps(result)
    assert em_sim.state()["open_sessions"] == 0


def test_a_failed_audit_still_logs_off(em_sim):
    em_sim.faults({"on": "query", "action": "status", "status": 400, "times": -1})
    result = get_action(AUDIT, audit_args(em_sim, policy_data="required"))[0].run(task_vars={})
    assert result["failed"] is True and result["status"] == 400, result
    assert sessions_of(em_sim) == (1, 1, 0)


def test_an_interrupted_audit_logs_off_then_hands_the_signal_on(em_sim):
    """SIGTERM mid-query (AWX's cancel) in the worker running the action: logoff first, then the worker's own handler."""
    em_sim.faults({"on": "query", "action": "trickle", "every_ms": 200, "size": 100000, "times": -1})
    received = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))

    def signal_when_querying():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (em_sim.state()["open_sessions"] == 1 and em_sim.query_requests()):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=signal_when_querying)
    sender.start()
    try:
        with pytest.raises(Interrupted):
            get_action(AUDIT, audit_args(em_sim, workers=2))[0].run(task_vars={})
    finally:
        sender.join()
        signal.signal(signal.SIGTERM, previous)
    assert received == [signal.SIGTERM]
    assert sessions_of(em_sim) == (1, 1, 0)


def test_check_mode_audits_as_the_module_does(em_sim):
    """cdp_compliance_info supports check mode and reads only: it audits in check mode too."""
    result = get_action(AUDIT, audit_args(em_sim), check_mode=True)[0].run(task_vars={})
    assert not result.get("failed") and result["report"]["kind"] == "cdp_compliance_report"
    assert sessions_of(em_sim) == (1, 1, 0)


def test_a_module_without_check_mode_is_skipped_before_any_request(em_sim):
    action, calls = get_action(AUDIT, audit_args(em_sim), check_mode=True)
    action.module_check_mode = False
    result = action.run(task_vars={})
    assert result["skipped"] is True and AUDIT in result["msg"] and calls == []
    assert em_sim.requests == []


@pytest.mark.parametrize("name, args", [(AUDIT, {}), (SESSION, {"state": "present"})])
@pytest.mark.parametrize("situation", [{"transport": "ssh"}, {"become": True}])
def test_a_remote_or_become_task_runs_the_module(em_sim, name, args, situation):
    action, calls = get_action(name, audit_args(em_sim, **args) if name == AUDIT else connection_args(em_sim, **args), **situation)
    assert action.run(task_vars={}) == {"ran": "module"} and calls == [name]
    assert em_sim.requests == []


def test_session_logon_then_logoff_in_process(em_sim):
    action, calls = get_action(SESSION, connection_args(em_sim))
    logon = action.run(task_vars={})
    assert calls == [] and not logon.get("failed"), logon
    # The session id is the module's result: not masked, although the client registered it as a secret.
    token = logon["session_id"]
    assert len(token) > 8 and logon["changed"] is False and sessions_of(em_sim) == (1, 0, 1)
    assert PASSWORD not in json.dumps(logon)
    # Logoff needs no credentials, as with the module.
    logoff = get_action(SESSION, {"host": "127.0.0.1", "port": em_sim.port, "ca_path": em_sim.ca_file, "session_id": token,
                                  "state": "absent"})[0].run(task_vars={})
    assert logoff == {"changed": True, "base_url": logon["base_url"]}, logoff
    assert sessions_of(em_sim) == (1, 1, 0)


def test_session_logoff_in_check_mode_leaves_the_session_open(em_sim):
    logon = get_action(SESSION, connection_args(em_sim))[0].run(task_vars={})
    args = {"host": "127.0.0.1", "port": em_sim.port, "ca_path": em_sim.ca_file, "session_id": logon["session_id"], "state": "absent"}
    result = get_action(SESSION, args, check_mode=True)[0].run(task_vars={})
    assert result["changed"] is True and not result.get("failed") and sessions_of(em_sim) == (1, 0, 1)
    get_action(SESSION, args)[0].run(task_vars={})
    assert sessions_of(em_sim) == (1, 1, 0)


def test_session_logoff_without_a_session_id_fails_like_the_module(em_sim, capsys):
    args = {"host": "127.0.0.1", "port": em_sim.port, "ca_path": em_sim.ca_file, "state": "absent"}
    result = get_action(SESSION, args)[0].run(task_vars={})
    code, module_result = run_main(session, args, capsys)
    assert code == 1 and result["failed"] is True and result["msg"] == module_result["msg"]
    assert result["option"] == "session_id" and em_sim.requests == []
