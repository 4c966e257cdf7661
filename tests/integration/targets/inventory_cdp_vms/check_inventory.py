# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run ansible-inventory with cdp_vms configurations against the simulator and check hosts, variables and groups.

Usage: check_inventory.py INTEGRATION_CONFIG WORK_DIR [ansible-playbook args]. The simulator gets one twin VM
(the same VM name under a second backup server) for the run; its data set is restored however the run ends.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import urllib.request

import yaml

PLUGIN = "veeam.enterprise_manager.cdp_vms"
VERDICTS = ("compliant", "warning", "non_compliant")
SPECIAL_NAMES = ("Finance DB 01", 'O"Brien-app', "web;01,a+b", "caf\u00e9-srv")
LAST_SESSION_KEYS = {"uid", "state", "result", "creation_time_utc", "end_time_utc"}
WRONG_PASSWORD = "Wr0ng-Passw0rd!inventory"


class Simulator:
    def __init__(self, config):
        self.url = config["em_control_url"]
        self.context = ssl.create_default_context(cafile=config["em_ca_path"])

    def control(self, method, path, payload=None):
        data = json.dumps(payload).encode("utf-8") if payload is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
            return json.load(response)

    def requests(self):
        """EM requests received so far, by kind (control API calls left out)."""
        counts = dict(self.control("GET", "/state")["requests"])
        counts.pop("control", None)
        return counts


def plain(value):
    """ansible-core 2.19 prints values an inventory plugin sets as {"__ansible_unsafe": value}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def safe_group(name):
    # Ansible's rule (ansible.constants.INVALID_VARIABLE_NAMES): no leading digit, only word characters.
    return re.sub(r"^[\d\W]|[^\w]", "_", name)


def members(listing, group):
    """Hosts of a group in --list output; empty groups are not printed."""
    return set(listing.get(group, {}).get("hosts", ()))


class Inventory:
    def __init__(self, config, work, extra_args):
        self.work = work
        self.extra_args = extra_args
        self.env = dict(os.environ, VEEAM_EM_HOST=str(config["em_host"]), VEEAM_EM_PORT=str(config["em_port"]),
                        VEEAM_EM_USERNAME=config["em_username"], VEEAM_EM_PASSWORD=config["em_password"],
                        VEEAM_EM_CA_PATH=config["em_ca_path"], VEEAM_EM_VALIDATE_CERTS="true",
                        ANSIBLE_INVENTORY_UNPARSED_FAILED="true")

    def run(self, name, options, *args, env=None):
        path = os.path.join(self.work, name + "_cdp_vms.yml")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(dict({"plugin": PLUGIN}, **options), handle, allow_unicode=True)
        return subprocess.run(["ansible-inventory", "-i", path] + list(args), env=dict(self.env, **(env or {})),
                              capture_output=True, text=True, check=False)

    def list(self, name, options, *args, env=None):
        result = self.run(name, options, "--list", *args, env=env)
        assert result.returncode == 0, "ansible-inventory --list failed for %s:\n%s" % (name, result.stderr)
        return plain(json.loads(result.stdout))

    def reference_report(self):
        report_file = os.path.join(self.work, "reference_report.json")
        env = dict(self.env)
        env.pop("ANSIBLE_INVENTORY_UNPARSED_FAILED")  # the play runs on the implicit localhost
        subprocess.run(["ansible-playbook", "reference_audit.yml", "-e", "report_file=%s" % report_file] + self.extra_args,
                       env=env, check=True)
        with open(report_file, encoding="utf-8") as handle:
            return json.load(handle)


def check_host_matches_audit(variables, vm, prefix="veeam_cdp_"):
    expected = {"vm_display_name": vm["name"], "verdict": vm["status"], "policy": vm["policy"], "policy_uid": vm["policy_uid"],
                "rpo_seconds": vm["rpo_seconds"], "backup_server": vm["backup_server"], "backup_server_uid": vm["backup_server_uid"],
                "findings": sorted({finding["rule"] for finding in vm["findings"] if not finding["waived"]})}
    actual = {key: variables.get(prefix + key) for key in expected}
    assert actual == expected, "%s: inventory %s, audit %s" % (vm["name"], actual, expected)
    last = variables[prefix + "last_session"]
    if vm["sessions"]:
        assert set(last) == LAST_SESSION_KEYS and last["uid"].startswith("urn:veeam:CdpReplicaTaskSession:"), (vm["name"], last)


def check_default(inventory, sim, reference, twin, em_host):
    before = sim.requests()
    listing = inventory.list("default", {})
    after = sim.requests()
    assert after["logon"] - before.get("logon", 0) == 1 and after["logoff"] - before.get("logoff", 0) == 1, (before, after)
    assert sim.control("GET", "/state")["open_sessions"] == 0
    hostvars = listing["_meta"]["hostvars"]
    audit = {vm["name"]: vm for vm in reference["vms"]}
    stopped = "%s@%s" % (twin["vm"], twin["backup_server"])
    namesake = "%s@%s" % (twin["vm"], twin["namesake_backup_server"])
    assert set(hostvars) == (set(audit) - {twin["vm"]}) | {stopped, namesake}, sorted(set(hostvars) ^ set(audit))
    assert set(SPECIAL_NAMES) <= set(hostvars)
    for name, vm in audit.items():
        if name != twin["vm"]:
            check_host_matches_audit(hostvars[name], vm)
    # The same name under two backup servers: two hosts, judged apart.
    assert hostvars[stopped]["veeam_cdp_backup_server"] == twin["backup_server"] and hostvars[stopped]["veeam_cdp_policy"] == twin["policy"]
    # No session in the window: one cause, one violation (scope/no_sessions), the staleness folded into it.
    assert hostvars[stopped]["veeam_cdp_verdict"] == "non_compliant" and hostvars[stopped]["veeam_cdp_findings"] == ["scope"], \
        hostvars[stopped]["veeam_cdp_findings"]
    assert hostvars[stopped]["veeam_cdp_last_session"] is None
    assert hostvars[namesake]["veeam_cdp_backup_server"] == twin["namesake_backup_server"]
    assert hostvars[namesake]["veeam_cdp_policy"] == twin["namesake_policy"]
    assert hostvars[namesake]["veeam_cdp_verdict"] == "compliant" and hostvars[namesake]["veeam_cdp_last_session"]["state"] == "InProgress"
    for name, variables in hostvars.items():
        assert variables["veeam_cdp_vm_display_name"] == (twin["vm"] if name in (stopped, namesake) else name)
        assert variables["veeam_cdp_em_host"] == em_host, variables["veeam_cdp_em_host"]
        assert "ansible_connection" not in variables and "ansible_host" not in variables
        assert sum(name in members(listing, "cdp_" + verdict) for verdict in VERDICTS) == 1, name
        assert name in members(listing, "cdp_" + variables["veeam_cdp_verdict"])
    assert members(listing, "cdp_non_compliant"), "the realistic data set has non-compliant VMs"
    no_data = {name for name, vm in audit.items() if not vm["sessions"] and name != twin["vm"]} | {stopped}
    assert members(listing, "cdp_no_data") == no_data, members(listing, "cdp_no_data") ^ no_data
    for field, prefix in (("veeam_cdp_policy", "cdp_policy_"), ("veeam_cdp_backup_server", "cdp_backup_server_")):
        values = {variables[field] for variables in hostvars.values() if variables[field]}
        assert len(values) > 1, field
        for value in values:
            expected = {name for name, variables in hostvars.items() if variables[field] == value}
            assert members(listing, safe_group(prefix + value)) == expected, (prefix, value)
    assert "cdp_policy_CDP_Tier0_Databases" in listing, "policy groups are named by Ansible's group-name rules"

    graph = inventory.run("default", {}, "--graph", "cdp_non_compliant")
    assert graph.returncode == 0, graph.stderr
    shown = {line.split("|--", 1)[1] for line in graph.stdout.splitlines() if "|--" in line}
    assert graph.stdout.startswith("@cdp_non_compliant:") and shown == members(listing, "cdp_non_compliant"), graph.stdout
    assert stopped in shown and namesake not in shown
    return hostvars


def check_include_policies_off(inventory, reference, twin):
    hostvars = inventory.list("no_policies", {"include_policies": False})["_meta"]["hostvars"]
    seen = {vm["name"] for vm in reference["vms"] if vm["sessions"]}
    # Only the namesake has sessions in the window, so its name is under one backup server and stays bare.
    assert set(hostvars) == seen and twin["vm"] in hostvars, sorted(set(hostvars) ^ seen)
    assert all(variables["veeam_cdp_policy"] is None for variables in hostvars.values())


def check_constructed(inventory, default_hostvars):
    options = {
        "hostname": "vm_display_name_at_backup_server", "hostvar_prefix": "em_", "strict": True,
        "compose": {"ansible_host": "em_vm_display_name | lower", "rpo_minutes": "(em_rpo_seconds / 60) if em_rpo_seconds is not none else None"},
        "groups": {"fast_rpo": "em_rpo_seconds is not none and em_rpo_seconds <= 60"},
        "keyed_groups": [{"key": "em_verdict", "prefix": "verdict"}, {"key": "em_findings", "prefix": "finding"}],
    }
    listing = inventory.list("constructed", options)
    hostvars = listing["_meta"]["hostvars"]
    assert len(hostvars) == len(default_hostvars)
    for name, variables in hostvars.items():
        assert name == "%s@%s" % (variables["em_vm_display_name"], variables["em_backup_server"]), name
        assert not any(key.startswith("veeam_cdp_") for key in variables)
        assert variables["ansible_host"] == variables["em_vm_display_name"].lower()
        rpo = variables["em_rpo_seconds"]
        assert variables["rpo_minutes"] == (rpo / 60 if rpo is not None else None), variables
    assert members(listing, "fast_rpo") == {name for name, v in hostvars.items() if v["em_rpo_seconds"] is not None and v["em_rpo_seconds"] <= 60}
    assert members(listing, "fast_rpo")
    for verdict in VERDICTS:
        assert members(listing, "verdict_" + verdict) == members(listing, "cdp_" + verdict), verdict
    assert members(listing, "finding_scope") == {name for name, v in hostvars.items() if "scope" in v["em_findings"]}
    assert members(listing, "finding_scope")

    strict = inventory.run("strict", {"strict": True, "compose": {"broken": "no_such_variable + 1"}}, "--list")
    assert strict.returncode != 0 and "no_such_variable" in strict.stderr, strict.stderr


def check_cache(inventory, sim, work):
    options = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": os.path.join(work, "cache"), "cache_timeout": 600}
    before = sim.requests()
    cold = inventory.list("cached", options)
    warm_start = sim.requests()
    assert warm_start.get("logon", 0) == before.get("logon", 0) + 1 and warm_start["query"] > before.get("query", 0)
    warm = inventory.list("cached", options)
    assert sim.requests() == warm_start, "a warm cache sent EM requests: %s -> %s" % (warm_start, sim.requests())
    assert warm == cold
    for name in os.listdir(os.path.join(work, "cache")):
        with open(os.path.join(work, "cache", name), encoding="utf-8") as handle:
            assert inventory.env["VEEAM_EM_PASSWORD"] not in handle.read()
    # Naming and groups are applied to the cached VMs: changing them needs no sync.
    renamed = inventory.list("cached", dict(options, hostname="vm_display_name_at_backup_server", hostvar_prefix="em_"))
    assert sim.requests() == warm_start and len(renamed["_meta"]["hostvars"]) == len(cold["_meta"]["hostvars"])
    assert all("@" in name and "em_verdict" in variables for name, variables in renamed["_meta"]["hostvars"].items())
    inventory.list("cached", options, "--flush-cache")
    assert sim.requests()["logon"] == warm_start["logon"] + 1, "--flush-cache must sync from EM"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_errors(inventory, sim):
    bad_options = (
        ("bad_window", {"window_start": "yesterday"}, ("'window_start'", "yesterday")),
        ("unknown_option", {"window_stat": "-2h"}, ("unknown option window_stat",)),
        ("bad_hostname", {"hostname": "fqdn"}, ("'fqdn'", "'hostname'")),
        ("bad_rules", {"rules": {"coverage": {"max_gap": "soon"}}}, ("rules.coverage.max_gap", "soon")),
        ("bad_workers", {"workers": 99}, ("'workers'", "1 to 16")),
        ("bad_port", {"port": "nine"}, ("'port'", "nine")),
    )
    for name, options, expected in bad_options:
        before = sim.requests()
        result = inventory.run(name, options, "--list")
        assert result.returncode != 0, name
        assert all(text in result.stderr for text in expected), "%s: %s" % (name, result.stderr)
        assert sim.requests() == before, "%s: a request was sent before the options were checked" % name

    result = inventory.run("wrong_password", {}, "--list", "-vvvv", env={"VEEAM_EM_PASSWORD": WRONG_PASSWORD})
    assert result.returncode != 0 and "rejected the user name or password" in result.stderr, result.stderr
    assert WRONG_PASSWORD not in result.stdout + result.stderr

    extra_vars = inventory.run("extra_vars", {}, "--list", "-e", "veeam_em_password=%s" % inventory.env["VEEAM_EM_PASSWORD"],
                               env={"VEEAM_EM_PASSWORD": WRONG_PASSWORD})
    assert extra_vars.returncode == 0, "an extra variable outranks the environment: %s" % extra_vars.stderr

    port = free_port()
    result = inventory.run("unreachable", {"host": "https://127.0.0.1:%d" % port, "retries": 0, "timeout": 5}, "--list")
    assert result.returncode != 0 and "127.0.0.1:%d" % port in result.stderr and "Check host and port" in result.stderr, result.stderr

    verbose = inventory.run("default", {}, "--list", "-vvvv")
    assert verbose.returncode == 0, verbose.stderr
    assert inventory.env["VEEAM_EM_PASSWORD"] not in verbose.stdout + verbose.stderr


def main():
    config_file, work = sys.argv[1:3]
    with open(config_file, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    sim = Simulator(config)
    data_now = sim.control("GET", "/state")["data"]["now"]
    inventory = Inventory(config, work, sys.argv[3:])
    sim.control("POST", "/reset", {"twin_vms": 1, "now": data_now})
    try:
        twin = sim.control("GET", "/truth")["twins"][0]
        reference = inventory.reference_report()
        hostvars = check_default(inventory, sim, reference, twin, reference["em_host"])
        check_include_policies_off(inventory, reference, twin)
        check_constructed(inventory, hostvars)
        check_cache(inventory, sim, work)
        check_errors(inventory, sim)
    finally:
        sim.control("POST", "/reset", {"twin_vms": 0, "now": data_now})
    print("inventory_cdp_vms: all checks passed")


if __name__ == "__main__":
    main()
