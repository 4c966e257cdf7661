# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cdp_vms inventory plugin: host naming, the per-backup-server audit, option sources, and a sync against the simulator."""

from __future__ import annotations

import contextlib

import pytest
import yaml

from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.veeam.enterprise_manager.plugins.inventory import cdp_vms
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import ComplianceEvaluator
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import CONNECTION_OPTIONS, INI_SECTION, ConnectionConfig
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils import cdp_vm_hosts
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.cdp_vm_hosts import (
    PerServerEvaluator, host_names, prepare_vm_audit)
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.server import SimServer
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD, USER, Sim

PLUGIN = "veeam.enterprise_manager.cdp_vms"
SERVER_A = "urn:veeam:BackupServer:aaaaaaaa-0000-4000-8000-000000000001"
SERVER_B = "urn:veeam:BackupServer:bbbbbbbb-0000-4000-8000-000000000002"


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch, tmp_path):
    """No VEEAM_EM_* from the caller's environment, and an empty ansible.cfg."""
    for option in CONNECTION_OPTIONS.values():
        monkeypatch.delenv(option["env"], raising=False)
    config_file = tmp_path / "ansible.cfg"
    config_file.write_text("[defaults]\n", encoding="utf-8")
    monkeypatch.setattr(C.config, "_config_file", str(config_file))
    return config_file


def vm(name, server_uid, server=None, **extra):
    return dict({"vm_display_name": name, "backup_server_uid": server_uid, "backup_server": server}, **extra)


# -- host names --------------------------------------------------------------------------------------------

def test_a_name_under_one_backup_server_stays_bare():
    assert host_names([vm("db01", SERVER_A, "bs1"), vm("Finance DB 01", SERVER_B, "bs2")]) == ["db01", "Finance DB 01"]


def test_the_same_name_under_two_backup_servers_gives_two_qualified_hosts():
    vms = [vm("db01", SERVER_A, "bs1"), vm("web01", SERVER_A, "bs1"), vm("db01", SERVER_B, "bs2")]
    assert host_names(vms) == ["db01@bs1", "web01", "db01@bs2"]


def test_two_backup_servers_of_one_name_are_told_apart_by_uid():
    vms = [vm("db01", SERVER_A, "bs"), vm("db01", SERVER_B, "bs")]
    assert host_names(vms) == ["db01@bs", "db01@%s" % SERVER_B]


def test_qualified_hostname_always_names_the_backup_server():
    vms = [vm("db01", SERVER_A, "bs1"), vm("web01", None, None)]
    assert host_names(vms, "vm_display_name_at_backup_server") == ["db01@bs1", "web01@unknown"]


def test_a_vm_named_like_a_qualified_host_never_merges():
    vms = [vm("db01@bs1", SERVER_B, "bs9"), vm("db01", SERVER_A, "bs1"), vm("db01", SERVER_B, "bs9")]
    names = host_names(vms)
    assert len(set(names)) == 3 and names[0] == "db01@bs1" and names[1] == "db01@%s" % SERVER_A


# -- the audit per backup server ---------------------------------------------------------------------------

WINDOW = {"start": "2025-06-19T12:00:00Z", "end": "2025-06-20T12:00:00Z"}
NOW = "2025-06-20T12:00:00Z"


def session(uid, vm_name, server_uid, created, ended, state="Completed", result="Success"):
    return {"uid": uid, "name": "%s@x" % vm_name, "vm_display_name": vm_name, "backup_server_uid": server_uid,
            "backup_server_name": server_uid[-1], "creation_time_utc": created, "end_time_utc": ended, "state": state,
            "result": result, "policy_session_uid": "urn:veeam:CdpReplicaSession:p1", "policy_session_name": None}


def test_per_server_evaluator_judges_namesakes_apart_and_keeps_the_newest_session():
    evaluator = PerServerEvaluator(ComplianceEvaluator(now=NOW, window=WINDOW))
    evaluator.add_policy_session({"uid": "urn:veeam:CdpReplicaSession:p1", "name": "P@x", "state": "Working"})
    # Server A: covered all day, still running. Server B: stopped at 02:00.
    evaluator.add_session(session("a1", "db01", SERVER_A, "2025-06-19T11:00:00Z", "2025-06-20T07:00:00Z"))
    evaluator.add_session(session("a2", "db01", SERVER_A, "2025-06-20T07:00:00.5Z", None, state="InProgress"))
    evaluator.add_session(session("a0", "db01", SERVER_A, "2025-06-20T07:00:00Z", "2025-06-20T07:00:00.4Z"))
    evaluator.add_session(session("b1", "db01", SERVER_B, "2025-06-19T10:00:00Z", "2025-06-20T02:00:00Z", result="Failed"))
    evaluator.mark_truncated(False)
    evaluator.evidence.update({"em_host": "https://em:9398"})
    reports = dict(evaluator.finish())
    assert set(reports) == {SERVER_A.lower(), SERVER_B.lower()}
    status = {key: [(entry["name"], entry["status"]) for entry in report["vms"]] for key, report in reports.items()}
    assert status == {SERVER_A.lower(): [("db01", "compliant")], SERVER_B.lower(): [("db01", "non_compliant")]}
    assert all(report["em_host"] == "https://em:9398" for report in reports.values())
    # 07:00:00.5Z is newer than 07:00:00Z although it sorts before it as text.
    assert evaluator.last_sessions[(SERVER_A.lower(), "db01")][1]["uid"] == "a2"
    assert evaluator.last_sessions[(SERVER_B.lower(), "db01")][1] == {
        "uid": "b1", "state": "Completed", "result": "Failed", "creation_time_utc": "2025-06-19T10:00:00Z",
        "end_time_utc": "2025-06-20T02:00:00Z"}


def test_policy_sessions_reach_backup_servers_seen_later():
    template = ComplianceEvaluator(now=NOW, window=WINDOW)
    evaluator = PerServerEvaluator(template)
    record = {"uid": "urn:veeam:CdpReplicaSession:p1", "name": "Gold@2025-06-19 00:00:00", "policy_uid": "urn:veeam:CdpPolicy:g",
              "policy_name": "Gold", "state": "Working"}
    evaluator.add_policy_session(record)
    evaluator.add_session(session("a1", "db01", SERVER_A, "2025-06-19T11:00:00Z", None, state="InProgress"))
    report = dict(evaluator.finish())[SERVER_A.lower()]
    assert report["vms"][0]["policy"] == "Gold" and report["vms"][0]["policy_uid"] == "urn:veeam:CdpPolicy:g"
    assert template.finish()["vms"] == [], "the audit's own evaluator is only copied, never fed"


def test_truncation_reaches_every_backup_server():
    evaluator = PerServerEvaluator(ComplianceEvaluator(now=NOW, window=WINDOW))
    evaluator.add_session(session("a1", "db01", SERVER_A, "2025-06-19T11:00:00Z", None, state="InProgress"))
    evaluator.add_session(session("b1", "db02", SERVER_B, "2025-06-19T11:00:00Z", None, state="InProgress"))
    evaluator.mark_truncated(True)
    assert all(report["data"]["truncated"] for _key, report in evaluator.finish())


def test_prepare_takes_the_scope_from_the_policies_unless_told_otherwise():
    evaluator = prepare_vm_audit({"window_start": "-24h", "include_policies": True}).evaluator
    assert isinstance(evaluator, PerServerEvaluator) and evaluator._template.rules["scope"]["from_policies"] is True
    evaluator = prepare_vm_audit({"rules": {"scope": {"from_policies": False}, "coverage": {"max_gap": "10m"}}}).evaluator
    assert evaluator._template.rules["scope"]["from_policies"] is False
    assert evaluator._template.rules["coverage"]["max_gap"] == 600
    with pytest.raises(InvalidInputError, match="rules.coverage.max_gap"):
        prepare_vm_audit({"rules": {"coverage": {"max_gap": "soon"}}})


# -- the plugin --------------------------------------------------------------------------------------------

def write_config(tmp_path, options, name="em_cdp_vms.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(dict({"plugin": PLUGIN}, **options)), encoding="utf-8")
    return str(path)


def parse(path, cache=False):
    plugin = inventory_loader.get(PLUGIN)
    assert plugin is not None
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), path, cache=cache)
    return inventory


def test_verify_file_wants_the_cdp_vms_suffix(tmp_path):
    plugin = inventory_loader.get(PLUGIN)
    for name, accepted in (("prod.cdp_vms.yml", True), ("cdp_vms.yaml", True), ("cdp_vms.json", False), ("inventory.yml", False)):
        path = tmp_path / name
        path.write_text("plugin: %s\n" % PLUGIN, encoding="utf-8")
        assert plugin.verify_file(str(path)) is accepted, name


@pytest.fixture
def captured(monkeypatch):
    """The plugin without a server: the connection config it validates, and one VM."""
    configs = []

    class FakeClient:
        base_url = "https://fake:9398"

    @contextlib.contextmanager
    def fake_open_client(options, **kwargs):
        configs.append(ConnectionConfig.from_options(options))
        yield FakeClient()

    def fake_audit(client, prepared):
        return [{"vm_display_name": "db01", "policy": "Gold", "policy_uid": "urn:veeam:CdpPolicy:g", "rpo_seconds": 15,
                 "backup_server": "bs1", "backup_server_uid": SERVER_A, "verdict": "warning", "findings": ["rpo"],
                 "no_data": False, "last_session": None, "em_host": client.base_url}], []

    monkeypatch.setattr(cdp_vms, "open_client", fake_open_client)
    monkeypatch.setattr(cdp_vms, "audit_vms", fake_audit)
    return configs


@pytest.mark.parametrize("option", sorted(CONNECTION_OPTIONS))
def test_connection_options_come_from_the_file_the_environment_or_ansible_cfg(option, captured, monkeypatch, tmp_path, isolated_settings):
    values = {"str": ("from-file", "from-env", "from-ini"), "path": ("/file/ca.pem", "/env/ca.pem", "/ini/ca.pem"),
              "int": (5, 6, 7), "bool": (False, True, True)}[CONNECTION_OPTIONS[option]["type"]]
    if option == "api_version":
        values = ("v1_7", "v1_6", "v1_5")
    base = {"host": "em.example.com", "username": "user", "password": "pass"}
    monkeypatch.setenv(CONNECTION_OPTIONS[option]["env"], str(values[1]).lower())
    isolated_settings.write_text("[defaults]\n[%s]\n%s = %s\n" % (INI_SECTION, option, str(values[2]).lower()), encoding="utf-8")
    parse(write_config(tmp_path, dict(base, **{option: values[0]})))
    assert getattr(captured[-1], option) == values[0]
    parse(write_config(tmp_path, {name: value for name, value in base.items() if name != option}))
    assert getattr(captured[-1], option) == values[1]
    monkeypatch.delenv(CONNECTION_OPTIONS[option]["env"])
    if option not in base:
        parse(write_config(tmp_path, base))
        assert getattr(captured[-1], option) == values[2]


def test_a_blank_ca_path_means_none(captured, monkeypatch, tmp_path):
    """An AWX credential without a CA injects VEEAM_EM_CA_PATH=""; the config system makes that the working directory."""
    monkeypatch.setenv("VEEAM_EM_CA_PATH", "")
    monkeypatch.chdir(tmp_path)
    parse(write_config(tmp_path, {"host": "em", "username": "u", "password": "p"}))
    assert captured[-1].ca_path is None


def test_hosts_groups_and_prefixed_variables(captured, tmp_path):
    inventory = parse(write_config(tmp_path, {"host": "em", "username": "u", "password": "p", "hostvar_prefix": "em_"}))
    host = inventory.get_host("db01")
    assert host.vars["em_verdict"] == "warning" and host.vars["em_findings"] == ["rpo"] and host.vars["em_em_host"] == "https://fake:9398"
    assert "ansible_connection" not in host.vars and "em_no_data" not in host.vars
    assert sorted(group.name for group in host.get_groups()) == ["cdp_backup_server_bs1", "cdp_policy_Gold", "cdp_warning"]
    assert {"cdp_compliant", "cdp_non_compliant", "cdp_no_data"} <= set(inventory.groups)


@pytest.mark.parametrize("options, message", [
    ({"window_start": "yesterday"}, "Invalid value for option 'window_start'"),
    ({"hostvar_prefx": "x_"}, "unknown option hostvar_prefx"),
    ({"rules": {"stuck": {"enabled": "maybe"}}}, "rules.stuck.enabled"),
    ({"password": None}, "'password'"),
])
def test_bad_options_fail_before_a_request(options, message, captured, tmp_path):
    config = dict({"host": "em", "username": "u", "password": "p"}, **options)
    with pytest.raises(AnsibleParserError, match=message.replace("(", r"\(")):
        parse(write_config(tmp_path, {key: value for key, value in config.items() if value is not None}))
    assert captured == []


# -- against the simulator ---------------------------------------------------------------------------------

@pytest.fixture
def twin_sim(em_cert_dir):
    """Data around the current time (the plugin's window ends now), with one VM name under two backup servers."""
    server = SimServer(port=0, tls_dir=em_cert_dir, seed=7, vms=5, days=3, interval_hours=8, profile="healthy", twin_vms=1,
                       users=[(USER, PASSWORD)])
    server.start()
    try:
        yield Sim(server)
    finally:
        server.stop()


def test_sync_against_the_simulator(twin_sim, tmp_path):
    twin = twin_sim.control("GET", "/_sim/truth")["twins"][0]
    path = write_config(tmp_path, twin_sim.options())
    inventory = parse(path)
    state = twin_sim.state()
    assert (state["logons"], state["logoffs"], state["open_sessions"]) == (1, 1, 0)
    stopped = inventory.get_host("%s@%s" % (twin["vm"], twin["backup_server"]))
    namesake = inventory.get_host("%s@%s" % (twin["vm"], twin["namesake_backup_server"]))
    assert twin["vm"] not in inventory.hosts and len(inventory.hosts) == 6
    assert stopped.vars["veeam_cdp_verdict"] == "non_compliant" and stopped.vars["veeam_cdp_last_session"] is None
    assert "cdp_no_data" in [group.name for group in stopped.get_groups()]
    assert namesake.vars["veeam_cdp_verdict"] == "compliant" and namesake.vars["veeam_cdp_policy"] == twin["namesake_policy"]
    assert namesake.vars["veeam_cdp_last_session"]["state"] == "InProgress"
    assert all(inventory.get_host(name).vars["veeam_cdp_verdict"] == "compliant" for name in inventory.hosts if name != stopped.name)


def test_wrong_password_is_an_inventory_error_without_the_password(twin_sim, tmp_path):
    path = write_config(tmp_path, twin_sim.options(password="N0t-the-Password"))
    with pytest.raises(AnsibleParserError) as caught:
        parse(path)
    assert "rejected the user name or password" in str(caught.value) and "N0t-the-Password" not in str(caught.value)
    assert twin_sim.state()["open_sessions"] == 0


def test_audit_vms_uses_one_logon(twin_sim, monkeypatch, tmp_path):
    calls = []
    original = cdp_vm_hosts.run_audit

    def counting(client, plan):
        calls.append(client.base_url)
        return original(client, plan)

    monkeypatch.setattr(cdp_vm_hosts, "run_audit", counting)
    parse(write_config(tmp_path, twin_sim.options(), name="count_cdp_vms.yml"))
    assert len(calls) == 1 and twin_sim.state()["logons"] == 1
