# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option tables against their documentation, runtime metadata and validation messages."""

from __future__ import annotations

import glob
import os

import pytest
import yaml

from ansible_collections.veeam.enterprise_manager.plugins.doc_fragments import connection as connection_fragment
from ansible_collections.veeam.enterprise_manager.plugins.doc_fragments import query as query_fragment
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient, build_base_url
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import (
    CONNECTION_OPTIONS,
    DEFAULT_PORT,
    INI_SECTION,
    SHARED_SPECS,
    ConnectionConfig,
    connection_argument_spec,
    get_spec,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.version import COLLECTION_VERSION

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def options_of(text):
    return yaml.safe_load(text)["options"]


# -- doc fragments equal the tables --------------------------------------------------------------


def test_connection_fragment_equals_the_table():
    documented = options_of(connection_fragment.ModuleDocFragment.DOCUMENTATION)
    assert list(documented) == list(CONNECTION_OPTIONS)
    for name, option in CONNECTION_OPTIONS.items():
        doc = documented[name]
        assert doc["type"] == option["type"], name
        assert doc.get("default") == option["default"], name
        assert "E(%s)" % option["env"] in " ".join(doc["description"]), name
        assert "required" not in doc, name


def test_connection_plugin_fragment_equals_the_table():
    documented = options_of(connection_fragment.ModuleDocFragment.PLUGINS)
    assert list(documented) == list(CONNECTION_OPTIONS)
    for name, option in CONNECTION_OPTIONS.items():
        assert documented[name]["env"] == [{"name": option["env"]}], name
        assert documented[name]["vars"] == [{"name": option["var"]}], name
        assert documented[name]["ini"] == [{"section": INI_SECTION, "key": name}], name
        assert option["env"] == "VEEAM_EM_" + name.upper() and option["var"] == "veeam_em_" + name


def _spec_view(spec):
    return {name: (entry.get("type", "str"), entry.get("default"), entry.get("choices"), bool(entry.get("required"))) for name, entry in spec.items()}


@pytest.mark.parametrize("fragment, group", [
    ("DOCUMENTATION", "query"),
    ("PAGING", "paging"),
    ("CDP_FILTERS", "cdp_filters"),
    ("GENERIC", "generic"),
])
def test_query_fragments_equal_the_argument_specs(fragment, group):
    documented = options_of(getattr(query_fragment.ModuleDocFragment, fragment))
    assert _spec_view(documented) == _spec_view(SHARED_SPECS[group])


def test_connection_group_is_the_table():
    assert SHARED_SPECS["connection"] == connection_argument_spec()
    assert list(get_spec("connection")) == list(CONNECTION_OPTIONS)


def test_get_spec_picks_groups_and_single_options_in_order():
    spec = get_spec("paging", "cdp_filters.vm_display_name", "query.filter")
    assert list(spec) == ["page_size", "max_records", "response_format", "vm_display_name", "filter"]
    assert spec["vm_display_name"] == {"type": "raw"} and spec["page_size"]["default"] == 1000
    with pytest.raises(KeyError):
        get_spec("no_such_group")
    with pytest.raises(KeyError):
        get_spec("paging.no_such_option")


def test_get_spec_returns_copies():
    """A module adjusting its spec cannot change another module's."""
    get_spec("paging")["page_size"]["default"] = 5
    get_spec("connection")["session_id"]["no_log"] = False
    assert SHARED_SPECS["paging"]["page_size"]["default"] == 1000
    assert get_spec("connection")["session_id"]["no_log"] is True


def test_awx_credential_type_injects_the_table():
    """docs/awx/credential_type.yml injects only the collection's environment variables, with the table's defaults."""
    with open(os.path.join(ROOT, "docs", "awx", "credential_type.yml"), encoding="utf-8") as handle:
        credential_type = yaml.safe_load(handle)
    injected = credential_type["injectors"]["env"]
    by_env = {option["env"]: name for name, option in CONNECTION_OPTIONS.items()}
    assert injected and set(injected) <= set(by_env)
    fields = {field["id"]: field for field in credential_type["inputs"]["fields"]}
    for env, template in injected.items():
        name = by_env[env]
        field = "ca_cert" if name == "ca_path" else name
        assert field in fields and field in template, env
        default = CONNECTION_OPTIONS[name]["default"]
        if default is not None:
            assert fields[field]["default"] == str(default).lower(), env
        assert fields[field].get("secret", False) is CONNECTION_OPTIONS[name]["no_log"], env
    assert str(DEFAULT_PORT) in injected["VEEAM_EM_PORT"]


def test_action_group_lists_every_module():
    """Every module that talks to EM is in the group; cdp_compliance_report (writes files) and cdp_compliance_history_info
    (reads the history store) are not."""
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        runtime = yaml.safe_load(handle)
    modules = {os.path.splitext(os.path.basename(path))[0] for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))}
    modules.discard("__init__")
    assert {"cdp_compliance_report", "cdp_compliance_history_info"} <= modules
    talks_to_em = modules - {"cdp_compliance_report", "cdp_compliance_history_info"}
    assert talks_to_em
    assert set(runtime["action_groups"]["enterprise_manager"]) == talks_to_em


def test_collection_version_equals_galaxy_yml():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    assert COLLECTION_VERSION == galaxy["version"]


# -- module argument spec ------------------------------------------------------------------------


def test_connection_argument_spec():
    spec = connection_argument_spec()
    assert list(spec) == list(CONNECTION_OPTIONS)
    for name, option in CONNECTION_OPTIONS.items():
        assert spec[name]["type"] == option["type"]
        assert spec[name]["fallback"][1] == [option["env"]]
        assert spec[name].get("default") == option["default"]
    assert spec["password"]["no_log"] is True and spec["session_id"]["no_log"] is True
    assert spec["username"]["no_log"] is False and spec["host"]["no_log"] is False


def test_connection_argument_spec_changes_do_not_leak():
    """Each call builds a fresh spec, so a module adjusting its copy cannot change another module's."""
    spec = connection_argument_spec()
    spec["session_id"]["no_log"] = False
    assert connection_argument_spec()["session_id"]["no_log"] is True


# -- ConnectionConfig validation -----------------------------------------------------------------

GOOD = {"host": "em.example.com", "username": "EMLAB\\auditor", "password": "pw"}


def test_defaults():
    config = ConnectionConfig.from_options(GOOD)
    assert (config.port, config.timeout, config.retries, config.workers, config.api_version) == (9398, 30, 3, 4, "latest")
    assert config.validate_certs is True and config.ca_path is None and config.session_id is None
    assert config.query_timeout == 1800


@pytest.mark.parametrize("changes, option", [
    ({"host": None}, "host"),
    ({"host": ""}, "host"),
    ({"username": None}, "username"),
    ({"password": ""}, "password"),
    ({"port": 0}, "port"),
    ({"port": 65536}, "port"),
    ({"port": "abc"}, "port"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": 3601}, "timeout"),
    ({"retries": -1}, "retries"),
    ({"retries": 11}, "retries"),
    ({"workers": 0}, "workers"),
    ({"workers": 17}, "workers"),
    ({"workers": [4]}, "workers"),
    ({"api_version": "  "}, "api_version"),
    ({"query_timeout": 0}, "query_timeout"),
    ({"query_timeout": 86401}, "query_timeout"),
])
def test_validation_names_the_option(changes, option):
    options = dict(GOOD)
    options.update(changes)
    with pytest.raises(InvalidInputError) as info:
        ConnectionConfig.from_options(options)
    assert info.value.option == option
    assert "'%s'" % option in info.value.message


def test_a_user_name_whose_backslash_yaml_ate_is_refused_with_the_cause():
    """YAML "EMLAB\\auditor" (double quotes) is EMLAB<BEL>uditor: refused before any request, naming the cause."""
    with pytest.raises(InvalidInputError) as info:
        ConnectionConfig.from_options(dict(GOOD, username="EMLAB\auditor"))
    message = info.value.message
    assert info.value.option == "username"
    assert "'EMLAB\\x07uditor' contains the control character U+0007 at position 6" in message
    assert "backslash was probably eaten by YAML double quotes" in message and "\\a" in message
    assert "single quotes ('EMLAB\\auditor')" in message


@pytest.mark.parametrize("username", ["EMLAB\nobody", "EMLAB\tom", "bad\x7fname", "EMLAB\x00x"])
def test_any_control_character_in_a_user_name_is_refused(username):
    with pytest.raises(InvalidInputError, match="control character"):
        ConnectionConfig.from_options(dict(GOOD, username=username))


@pytest.mark.parametrize("username", ["EMLAB\\auditor", "auditor@emlab.local", "EMLAB\\Jürgen Müller"])
def test_ordinary_user_names_pass(username):
    assert ConnectionConfig.from_options(dict(GOOD, username=username)).username == username


def test_session_id_replaces_credentials():
    config = ConnectionConfig.from_options({"host": "em", "session_id": "abc"})
    assert config.session_id == "abc" and config.username is None
    assert ConnectionConfig.from_options({"host": "em"}, require_credentials=False).username is None


def test_numeric_strings_and_blank_ca_path():
    config = ConnectionConfig.from_options(dict(GOOD, port="9399", workers="16", retries="0", ca_path="  "))
    assert (config.port, config.workers, config.retries, config.ca_path) == (9399, 16, 0, None)
    assert ConnectionConfig.from_options(dict(GOOD, ca_path="")).ca_path is None


def test_ca_path_expands_the_home_directory(monkeypatch):
    monkeypatch.setenv("HOME", "/home/auditor")
    assert ConnectionConfig.from_options(dict(GOOD, ca_path="~/em-ca.pem")).ca_path == "/home/auditor/em-ca.pem"
    assert ConnectionConfig.from_options(dict(GOOD, ca_path=" /etc/pki/em-ca.pem ")).ca_path == "/etc/pki/em-ca.pem"


def test_hand_built_config_keeps_the_defaults():
    """Benchmarks and tests build configs by hand: the dataclass fields carry the table's defaults."""
    config = ConnectionConfig(host="em.example.com")
    for name, option in CONNECTION_OPTIONS.items():
        if name != "host":
            assert getattr(config, name) == option["default"], name


@pytest.mark.parametrize("host, port, expected", [
    ("em.example.com", 9398, ("https://em.example.com:9398", False)),
    (" em.example.com ", 9400, ("https://em.example.com:9400", False)),
    ("https://em.example.com:9500/api/", 9398, ("https://em.example.com:9500", False)),
    ("https://em.example.com/prefix", 9398, ("https://em.example.com:9398/prefix", False)),
    ("http://127.0.0.1:8080", 9398, ("http://127.0.0.1:8080", True)),
    ("::1", 9398, ("https://[::1]:9398", False)),
    ("[fe80::1]", 9398, ("https://[fe80::1]:9398", False)),
])
def test_build_base_url(host, port, expected):
    assert build_base_url(host, port) == expected


@pytest.mark.parametrize("host", ["ftp://em.example.com", "em.example.com/path", "user@em", "https://", "https://em:99999", "em example"])
def test_bad_host_is_invalid_input(host):
    with pytest.raises(InvalidInputError) as info:
        EmClient(ConnectionConfig.from_options(dict(GOOD, host=host)))
    assert info.value.option == "host"


def test_plain_http_is_refused_without_the_opt_in():
    # Issue 17 item 7: 0.1.0 only warned.
    with pytest.raises(InvalidInputError) as info:
        EmClient(ConnectionConfig.from_options(dict(GOOD, host="http://127.0.0.1:1")))
    assert info.value.option == "host" and "allow_plain_http" in info.value.message and "unencrypted" in info.value.message


@pytest.mark.parametrize("value", [True, "true", "yes"])
def test_plain_http_with_the_opt_in_warns(value):
    warnings = []
    config = ConnectionConfig.from_options(dict(GOOD, host="http://127.0.0.1:1", allow_plain_http=value))
    client = EmClient(config, warn=warnings.append)
    client.close()
    assert len(warnings) == 1 and "plain http" in warnings[0]


def test_plain_http_opt_in_false_as_text_still_refuses():
    with pytest.raises(InvalidInputError):
        EmClient(ConnectionConfig.from_options(dict(GOOD, host="http://127.0.0.1:1", allow_plain_http="false")))


def test_https_needs_no_opt_in():
    warnings = []
    client = EmClient(ConnectionConfig.from_options(dict(GOOD, host="https://127.0.0.1:1")), warn=warnings.append)
    client.close()
    assert client.base_url == "https://127.0.0.1:1" and warnings == []


@pytest.mark.parametrize("name, value", [("request_timeout", 0), ("request_timeout", 86401), ("max_response_mb", 0), ("max_response_mb", "big")])
def test_request_bounds_are_validated(name, value):
    with pytest.raises(InvalidInputError) as info:
        ConnectionConfig.from_options(dict(GOOD, **{name: value}))
    assert info.value.option == name
