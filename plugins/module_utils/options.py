# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of options that modules, actions and lookups pick from by name.

``CONNECTION_OPTIONS`` feeds the module argument specs (with environment fallbacks), the lookups'
config sources and the AWX credential type; ``SHARED_SPECS`` holds every option group and
``get_spec()`` picks groups or single options from it. Unit tests keep the doc fragments and
docs/awx/credential_type.yml equal to these tables.
"""

from __future__ import annotations

import copy
import dataclasses
import os

from ansible.module_utils.common.parameters import env_fallback
from ansible.module_utils.parsing.convert_bool import boolean

from .errors import InvalidInputError

DEFAULT_PORT = 9398
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 3
DEFAULT_WORKERS = 4
DEFAULT_API_VERSION = "latest"
MAX_WORKERS = 16
DEFAULT_PAGE_SIZE = 1000
DEFAULT_TREND_DAYS = 90
# A whole query (every page, every pass) ends within this many seconds; docs/reliability.md says why 30 minutes.
DEFAULT_QUERY_TIMEOUT = 1800
MAX_QUERY_TIMEOUT = 86400
DEFAULT_REQUEST_TIMEOUT = 300
MAX_RESPONSE_MB = 65536
INI_SECTION = "veeam_enterprise_manager"


def env_name(option):
    """The environment variable of a connection option: VEEAM_EM_<NAME>."""
    return "VEEAM_EM_" + option.upper()


def var_name(option):
    """The play/inventory variable of a connection option: veeam_em_<name>."""
    return "veeam_em_" + option


def _connection_option(option_type, default=None, no_log=False):
    return {"type": option_type, "default": default, "no_log": no_log}


# name -> type, default, secret? The env and var columns are derived below from the name.
CONNECTION_OPTIONS = {
    "host": _connection_option("str"),
    "port": _connection_option("int", DEFAULT_PORT),
    "username": _connection_option("str"),
    "password": _connection_option("str", no_log=True),
    "session_id": _connection_option("str", no_log=True),
    "validate_certs": _connection_option("bool", True),
    # str, not path: the config system would turn a blank path (an AWX credential without a CA) into the working directory.
    "ca_path": _connection_option("str"),
    "timeout": _connection_option("int", DEFAULT_TIMEOUT),
    "api_version": _connection_option("str", DEFAULT_API_VERSION),
    "retries": _connection_option("int", DEFAULT_RETRIES),
    "workers": _connection_option("int", DEFAULT_WORKERS),
    "query_timeout": _connection_option("int", DEFAULT_QUERY_TIMEOUT),
    # Issue 17 (security): plain http opt-in, a total deadline per request, a cap on the size of EM's answers.
    "allow_plain_http": _connection_option("bool", False),
    "request_timeout": _connection_option("int", DEFAULT_REQUEST_TIMEOUT),
    "max_response_mb": _connection_option("int"),
}
for _name, _option in CONNECTION_OPTIONS.items():
    _option.update(env=env_name(_name), var=var_name(_name))


def connection_argument_spec():
    """AnsibleModule argument spec entries for the connection options, with env fallbacks."""
    spec = {}
    for name, option in CONNECTION_OPTIONS.items():
        entry = {"type": option["type"], "no_log": option["no_log"], "fallback": (env_fallback, [option["env"]])}
        if option["default"] is not None:
            entry["default"] = option["default"]
        spec[name] = entry
    return spec


# Option groups, each documented by one doc fragment part (the group name says which; a unit test checks it).
SHARED_SPECS = {
    "connection": connection_argument_spec(),
    "paging": {
        "page_size": {"type": "int", "default": DEFAULT_PAGE_SIZE},
        "max_records": {"type": "int"},
        "response_format": {"type": "str", "default": "json", "choices": ["json", "xml"]},
    },
    "query": {
        "filter": {"type": "str"},
        "sort_order": {"type": "str", "default": "asc", "choices": ["asc", "desc"]},
        "format": {"type": "str", "default": "entities", "choices": ["entities", "references"]},
        "jmespath": {"type": "str"},
    },
    "cdp_filters": {
        "id": {"type": "raw"},
        "name": {"type": "raw"},
        "vm_display_name": {"type": "raw"},
        "policy_session_uid": {"type": "raw"},
        "policy_session_name": {"type": "raw"},
        "backup_server_uid": {"type": "raw"},
        "backup_server_name": {"type": "raw"},
        "state": {"type": "raw"},
        "reason": {"type": "raw"},
        "result": {"type": "raw"},
        "total_size_min": {"type": "int"},
        "total_size_max": {"type": "int"},
        "created_after": {"type": "str"},
        "created_before": {"type": "str"},
        "ended_after": {"type": "str"},
        "ended_before": {"type": "str"},
        "sort_by": {"type": "str", "default": "CreationTimeUTC"},
        "include_links": {"type": "bool", "default": False},
    },
    "generic": {
        "type": {"type": "str", "required": True},
        "filters": {"type": "dict"},
        "sort_by": {"type": "str"},
    },
    "audit": {
        "window_start": {"type": "str", "default": "-24h"},
        "window_end": {"type": "str", "default": "now"},
        "now": {"type": "str"},
        "rules": {"type": "dict"},
        "expected_vms": {"type": "list", "elements": "str"},
        "waivers": {"type": "list", "elements": "dict"},
        "include_policies": {"type": "bool", "default": True},
        "policy_data": {"type": "str", "default": "optional", "choices": ["optional", "required"]},
    },
    # Labels and context recorded in an audit's evidence (provenance.audit_labels).
    "provenance": {
        "title": {"type": "str"},
        "period": {"type": "str"},
        "awx_job": {"type": "dict"},
    },
    # The audit history store (module_utils/history*.py): the audit module records into it, cdp_compliance_history_info reads it.
    "history": {
        "history": {"type": "str"},
        "history_password": {"type": "str", "no_log": True},
        "history_trend_days": {"type": "int", "default": DEFAULT_TREND_DAYS},
    },
}


def get_spec(*names):
    """A fresh argument spec of the named groups ("paging") and single options ("cdp_filters.vm_display_name"), in order."""
    spec = {}
    for name in names:
        group, dummy, option = name.partition(".")
        entries = SHARED_SPECS[group]
        spec.update(copy.deepcopy({option: entries[option]} if option else entries))
    return spec


@dataclasses.dataclass
class ConnectionConfig:
    """Validated connection settings, independent of where they came from."""

    host: str | None = None
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None
    session_id: str | None = None
    validate_certs: bool = True
    ca_path: str | None = None
    timeout: int = DEFAULT_TIMEOUT
    api_version: str = DEFAULT_API_VERSION
    retries: int = DEFAULT_RETRIES
    workers: int = DEFAULT_WORKERS
    query_timeout: int = DEFAULT_QUERY_TIMEOUT
    allow_plain_http: bool = False
    request_timeout: int = DEFAULT_REQUEST_TIMEOUT
    max_response_mb: int | None = None

    @classmethod
    def from_options(cls, options, require_credentials=True):
        """Build from a mapping holding the CONNECTION_OPTIONS names (unset ones take the defaults); raise InvalidInputError on bad values."""
        config = cls(**{name: options[name] for name in CONNECTION_OPTIONS if options.get(name) is not None})
        if not config.host:
            raise InvalidInputError("host", "no EM host given.", "Set host (or VEEAM_EM_HOST), e.g. em.example.com or https://em.example.com:9398.")
        if not config.session_id and require_credentials and not (config.username and config.password):
            raise InvalidInputError("username" if not config.username else "password", "needed to log on to EM.",
                                    "Set username and password (VEEAM_EM_USERNAME, VEEAM_EM_PASSWORD), or pass session_id from the session module.")
        if config.username:
            _check_username(str(config.username))
        for name, low, high in (("port", 1, 65535), ("timeout", 1, 3600), ("retries", 0, 10), ("workers", 1, MAX_WORKERS),
                                ("query_timeout", 1, MAX_QUERY_TIMEOUT), ("request_timeout", 1, 86400)):
            setattr(config, name, _whole_number(name, getattr(config, name), low, high))
        try:
            config.allow_plain_http = boolean(config.allow_plain_http)
        except TypeError:
            raise InvalidInputError("allow_plain_http", "%r is not a boolean." % (config.allow_plain_http,), "Use true or false.")
        if config.max_response_mb is not None:
            config.max_response_mb = _whole_number("max_response_mb", config.max_response_mb, 1, MAX_RESPONSE_MB)
        if not str(config.api_version).strip():
            raise InvalidInputError("api_version", "must not be empty.", "Use latest, or a version such as v1_7.")
        # Blank means no CA file (an AWX credential without a CA injects an empty VEEAM_EM_CA_PATH).
        ca_path = str(config.ca_path or "").strip()
        config.ca_path = os.path.expanduser(ca_path) if ca_path else None
        return config


# -- user name check (issue 23 item 7): a YAML double-quoted "EMLAB\auditor" arrives as EMLAB<BEL>uditor.
# The control characters YAML's double-quoted escapes produce, and the escape that produced each.
_YAML_ESCAPES = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
                 "\r": "\\r", "\x1b": "\\e"}


def _check_username(username):
    """Refuse a user name with a control character, which no EM account has; say where it probably came from."""
    bad = [(index, char) for index, char in enumerate(username) if ord(char) < 32 or 127 <= ord(char) < 160]
    if not bad:
        return
    index, char = bad[0]
    shown = "".join("\\x%02x" % ord(item) if (ord(item) < 32 or 127 <= ord(item) < 160) else item for item in username)
    escape = _YAML_ESCAPES.get(char)
    cause = ("A backslash was probably eaten by YAML double quotes: %s in a double-quoted string is that control character, "
             "so \"EMLAB\\auditor\" reaches EM as EMLAB<BEL>uditor. " % escape) if escape else ""
    raise InvalidInputError("username", "'%s' contains the control character U+%04X at position %d." % (shown, ord(char), index + 1),
                            cause + "Write a DOMAIN\\user name in single quotes ('EMLAB\\auditor') or unquoted, or double the backslash "
                            "inside double quotes (\"EMLAB\\\\auditor\"); or use user@domain.")


def _whole_number(name, value, low, high):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(name, "%r is not a whole number." % (value,), "Use a number from %d to %d." % (low, high))
    if not low <= number <= high:
        raise InvalidInputError(name, "%d is out of range." % number, "Use a number from %d to %d." % (low, high))
    return number
