# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lookups: option sources and their precedence, error translation, a real query against the simulator."""

from __future__ import annotations

import pytest

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import runner
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import CONNECTION_OPTIONS, INI_SECTION
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils import lookup_base
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD, USER

CDP_LOOKUP = "veeam.enterprise_manager.cdp_replica_task_sessions"
RECORDS_LOOKUP = "veeam.enterprise_manager.records"
LEVELS = ("keyword", "vars", "env", "ini")

# Per option, one distinct valid value per level. validate_certs: the winning level says False, the rest True.
VALUES = {
    "host": ("kw.example.com", "var.example.com", "env.example.com", "ini.example.com"),
    "port": (1001, 1002, 1003, 1004),
    "username": ("kw-user", "var-user", "env-user", "ini-user"),
    "password": ("kw-pass", "var-pass", "env-pass", "ini-pass"),
    "session_id": ("kw-sid", "var-sid", "env-sid", "ini-sid"),
    "ca_path": ("/kw/ca.pem", "/var/ca.pem", "/env/ca.pem", "/ini/ca.pem"),
    "timeout": (11, 12, 13, 14),
    "api_version": ("v1_7", "v1_6", "v1_5", "v1_4"),
    "retries": (1, 2, 5, 6),
    "workers": (5, 6, 7, 8),
    "query_timeout": (101, 102, 103, 104),
    "request_timeout": (101, 102, 103, 104),
    "max_response_mb": (11, 12, 13, 14),
}
BASE = {"host": "base.example.com", "username": "base-user", "password": "base-pass"}


try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 templates every string
    def trust_as_template(value):
        return value


def get_lookup(name, variables=None):
    loader = DataLoader()
    lookup = lookup_loader.get(name, loader=loader, templar=Templar(loader=loader, variables=variables or {}))
    assert lookup is not None
    return lookup


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch, tmp_path):
    """No VEEAM_EM_* from the caller's environment, and an empty ansible.cfg."""
    for option in CONNECTION_OPTIONS.values():
        monkeypatch.delenv(option["env"], raising=False)
    config_file = tmp_path / "ansible.cfg"
    config_file.write_text("[defaults]\n", encoding="utf-8")
    monkeypatch.setattr(C.config, "_config_file", str(config_file))
    return config_file


class Captured:
    configs = []


@pytest.fixture
def captured(monkeypatch):
    """Replace the client and the query run: the lookup's option handling is tested without a server."""
    Captured.configs = []

    class FakeClient:
        base_url = "https://fake:9398"

        def __init__(self, config, **kwargs):
            Captured.configs.append(config)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_run_query(client, prepared):
        return {prepared.record_key: [{"uid": "u1"}], "count": 1, "truncated": False, "filter": prepared.spec.filter_expression,
                "pages": 1, "total": 1}

    monkeypatch.setattr(runner, "EmClient", FakeClient)
    monkeypatch.setattr(lookup_base, "run_query", fake_run_query)
    return Captured


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.mark.parametrize("level", range(len(LEVELS)), ids=LEVELS)
@pytest.mark.parametrize("option", sorted(CONNECTION_OPTIONS))
def test_option_precedence(option, level, captured, monkeypatch, isolated_settings):
    """keyword > vars > env > ini: the option is set at `level` and every lower level; `level` must win."""
    if option == "validate_certs":
        values = tuple(index != level for index in range(len(LEVELS)))
    elif option == "allow_plain_http":  # the winning level says True, the rest False
        values = tuple(index == level for index in range(len(LEVELS)))
    else:
        values = VALUES[option]
    kwargs = {name: value for name, value in BASE.items() if name != option}
    variables = {}
    ini_lines = []
    for index in range(level, len(LEVELS)):
        value = values[index]
        if LEVELS[index] == "keyword":
            kwargs[option] = value
        elif LEVELS[index] == "vars":
            variables[CONNECTION_OPTIONS[option]["var"]] = value
        elif LEVELS[index] == "env":
            monkeypatch.setenv(CONNECTION_OPTIONS[option]["env"], _text(value))
        else:
            ini_lines.append("%s = %s" % (option, _text(value)))
    isolated_settings.write_text("[defaults]\n[%s]\n%s\n" % (INI_SECTION, "\n".join(ini_lines)), encoding="utf-8")

    assert get_lookup(CDP_LOOKUP).run([], variables, **kwargs) == [{"uid": "u1"}]
    assert len(captured.configs) == 1
    assert getattr(captured.configs[0], option) == values[level]


def test_defaults_reach_the_config(captured):
    get_lookup(RECORDS_LOOKUP).run([], {}, type="CdpPolicy", **BASE)
    config = captured.configs[0]
    for name, option in CONNECTION_OPTIONS.items():
        if name not in BASE:
            assert getattr(config, name) == option["default"], name


def test_query_options_reach_prepare(captured, monkeypatch):
    seen = []
    original = get_lookup(CDP_LOOKUP).__class__.prepare  # a staticmethod: query.prepare_cdp_query

    def spy(self, params):
        seen.append(params)
        return original(params)

    lookup = get_lookup(CDP_LOOKUP)
    monkeypatch.setattr(lookup.__class__, "prepare", spy)
    lookup.run([], {}, vm_display_name=["a", "b"], created_after="-1d", page_size=10, **BASE)
    assert seen[0]["vm_display_name"] == ["a", "b"] and seen[0]["page_size"] == 10 and seen[0]["sort_order"] == "asc"


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_ca_path_means_no_ca_file(captured, monkeypatch, blank):
    """An AWX credential without a CA injects an empty VEEAM_EM_CA_PATH: no CA file, not the working directory."""
    monkeypatch.setenv("VEEAM_EM_CA_PATH", blank)
    get_lookup(CDP_LOOKUP).run([], {}, **BASE)
    assert captured.configs[0].ca_path is None


def test_ca_path_expands_the_home_directory(captured, monkeypatch):
    monkeypatch.setenv("HOME", "/home/auditor")
    get_lookup(CDP_LOOKUP).run([], {"veeam_em_ca_path": "~/em-ca.pem"}, **BASE)
    assert captured.configs[0].ca_path == "/home/auditor/em-ca.pem"


def test_lookups_take_the_option_groups_of_their_modules():
    from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_replica_task_session_info, query_info
    for name, module in ((CDP_LOOKUP, cdp_replica_task_session_info), (RECORDS_LOOKUP, query_info)):
        direct = dict(BASE, type="CdpPolicy") if module is query_info else dict(BASE)
        lookup = get_lookup(name)
        lookup.set_options(direct=direct)
        for option, entry in module.ARGUMENT_SPEC.items():
            # get_option raises for an option the lookup does not document.
            assert lookup.get_option(option) == direct.get(option, entry.get("default")), (name, option)


def test_templated_variables(captured):
    variables = {"veeam_em_host": trust_as_template("{{ em_name }}.example.com"), "em_name": "templated"}
    get_lookup(CDP_LOOKUP, variables).run([], variables, username="u", password="p")
    assert captured.configs[0].host == "templated.example.com"


def test_positional_terms_are_rejected(captured):
    with pytest.raises(AnsibleLookupError, match="no positional terms"):
        get_lookup(CDP_LOOKUP).run(["VmDisplayName==x"], {}, **BASE)
    assert captured.configs == []


@pytest.mark.parametrize("kwargs, fragment", [
    ({"page_size": 0}, "page_size"),
    ({"state": "Sleeping"}, "state"),
    ({"jmespath": "[?"}, "jmespath"),
    ({"host": None}, "host"),
    ({"workers": 99}, "workers"),
])
def test_invalid_options_become_lookup_errors(captured, kwargs, fragment):
    options = dict(BASE)
    options.update(kwargs)
    if options.get("host") is None:
        options.pop("host")
    with pytest.raises(AnsibleLookupError) as info:
        get_lookup(CDP_LOOKUP).run([], {}, **options)
    # The message names the plugin (as its FQCN or, on ansible-core 2.19, its Python module path).
    assert "'%s'" % fragment in str(info.value) and "cdp_replica_task_sessions" in str(info.value)
    assert captured.configs == []


# -- against the simulator -----------------------------------------------------------------------


def sim_options(sim, **extra):
    options = {"host": "127.0.0.1", "port": sim.port, "username": USER, "password": PASSWORD, "ca_path": sim.ca_file}
    options.update(extra)
    return options


def test_cdp_lookup_against_the_simulator(em_sim):
    records = get_lookup(CDP_LOOKUP).run([], {}, **sim_options(em_sim, vm_display_name="virt03-ubuntu01", page_size=2))
    assert [record["creation_time_utc"] for record in records] == [
        "2021-06-15T07:00:06.787Z", "2021-06-15T15:00:09.050Z", "2021-06-15T23:00:06.510Z"]
    assert all(record["backup_server_name"] == "backupsrv29.tech.local" for record in records)
    assert em_sim.state()["open_sessions"] == 0


def test_lookup_from_variables_against_the_simulator(em_sim):
    variables = {"veeam_em_" + name: value for name, value in sim_options(em_sim).items()}
    records = get_lookup(RECORDS_LOOKUP).run([], variables, type="CdpPolicy", jmespath="[0].uid")
    assert len(records) == 1 and records[0].startswith("urn:veeam:CdpPolicy:")


def test_em_errors_become_lookup_errors(em_sim):
    with pytest.raises(AnsibleLookupError) as info:
        get_lookup(CDP_LOOKUP).run([], {}, **sim_options(em_sim, password="wrong-password"))
    assert "user name or password" in str(info.value) and "wrong-password" not in str(info.value)
    em_sim.faults({"on": "query", "page": 1, "action": "garbage_bytes"})
    with pytest.raises(AnsibleLookupError, match="page 1 of the CdpReplicaTaskSession query: EM returned malformed JSON"):
        get_lookup(CDP_LOOKUP).run([], {}, **sim_options(em_sim))
    assert em_sim.state()["open_sessions"] == 0
