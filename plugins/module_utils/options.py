# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The single table of connection options.

Module argument specs, lookup option reading and the AWX credential type all derive
from ``CONNECTION_OPTIONS``; a unit test keeps the doc fragment equal to it.
"""

from __future__ import annotations

from ansible.module_utils.common.parameters import env_fallback

from .errors import InvalidInputError

DEFAULT_PORT = 9398
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 3
DEFAULT_WORKERS = 4
MAX_WORKERS = 16

# name -> type, default, environment variable, inventory/play variable, ini key, secret?
CONNECTION_OPTIONS = {
    "host": {"type": "str", "default": None, "env": "VEEAM_EM_HOST", "var": "veeam_em_host", "no_log": False},
    "port": {"type": "int", "default": DEFAULT_PORT, "env": "VEEAM_EM_PORT", "var": "veeam_em_port", "no_log": False},
    "username": {"type": "str", "default": None, "env": "VEEAM_EM_USERNAME", "var": "veeam_em_username", "no_log": False},
    "password": {"type": "str", "default": None, "env": "VEEAM_EM_PASSWORD", "var": "veeam_em_password", "no_log": True},
    "session_id": {"type": "str", "default": None, "env": "VEEAM_EM_SESSION_ID", "var": "veeam_em_session_id", "no_log": True},
    "validate_certs": {"type": "bool", "default": True, "env": "VEEAM_EM_VALIDATE_CERTS", "var": "veeam_em_validate_certs", "no_log": False},
    "ca_path": {"type": "path", "default": None, "env": "VEEAM_EM_CA_PATH", "var": "veeam_em_ca_path", "no_log": False},
    "timeout": {"type": "int", "default": DEFAULT_TIMEOUT, "env": "VEEAM_EM_TIMEOUT", "var": "veeam_em_timeout", "no_log": False},
    "api_version": {"type": "str", "default": "latest", "env": "VEEAM_EM_API_VERSION", "var": "veeam_em_api_version", "no_log": False},
    "retries": {"type": "int", "default": DEFAULT_RETRIES, "env": "VEEAM_EM_RETRIES", "var": "veeam_em_retries", "no_log": False},
    "workers": {"type": "int", "default": DEFAULT_WORKERS, "env": "VEEAM_EM_WORKERS", "var": "veeam_em_workers", "no_log": False},
}

INI_SECTION = "veeam_enterprise_manager"


def connection_argument_spec():
    """AnsibleModule argument spec entries for the connection options, with env fallbacks."""
    spec = {}
    for name, option in CONNECTION_OPTIONS.items():
        entry = {"type": option["type"], "no_log": option["no_log"], "fallback": (env_fallback, [option["env"]])}
        if option["default"] is not None:
            entry["default"] = option["default"]
        spec[name] = entry
    return spec


class ConnectionConfig:
    """Validated connection settings, independent of where they came from."""

    def __init__(self, host, port=DEFAULT_PORT, username=None, password=None, session_id=None, validate_certs=True,
                 ca_path=None, timeout=DEFAULT_TIMEOUT, api_version="latest", retries=DEFAULT_RETRIES, workers=DEFAULT_WORKERS):
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.session_id = session_id
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.api_version = api_version
        self.retries = retries
        self.workers = workers

    @classmethod
    def from_options(cls, options, require_credentials=True):
        """Build from a mapping holding the CONNECTION_OPTIONS names; raise InvalidInputError on bad values."""
        values = {name: options.get(name) for name in CONNECTION_OPTIONS}
        for name, option in CONNECTION_OPTIONS.items():
            if values[name] is None:
                values[name] = option["default"]
        if not values["host"]:
            raise InvalidInputError("host", "no EM host given.", "Set host (or VEEAM_EM_HOST), e.g. em.example.com or https://em.example.com:9398.")
        if not values["session_id"] and require_credentials:
            if not values["username"] or not values["password"]:
                missing = "username" if not values["username"] else "password"
                raise InvalidInputError(missing, "needed to log on to EM.",
                                        "Set username and password (VEEAM_EM_USERNAME, VEEAM_EM_PASSWORD), or pass session_id from the session module.")
        _check_int(values, "port", 1, 65535)
        _check_int(values, "timeout", 1, 3600)
        _check_int(values, "retries", 0, 10)
        _check_int(values, "workers", 1, MAX_WORKERS)
        if not str(values["api_version"]).strip():
            raise InvalidInputError("api_version", "must not be empty.", "Use latest, or a version such as v1_7.")
        if values["ca_path"] is not None and not str(values["ca_path"]).strip():
            values["ca_path"] = None
        return cls(**values)


def _check_int(values, name, low, high):
    value = values[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(name, "%r is not a whole number." % (value,), "Use a number from %d to %d." % (low, high))
    if not low <= number <= high:
        raise InvalidInputError(name, "%d is out of range." % number, "Use a number from %d to %d." % (low, high))
    values[name] = number
