# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running modules as Ansible would (main()), or their run() with a fake module, in unit tests."""

from __future__ import annotations

import json
import sys
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD, USER

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    patch_module_args = None

ENV_NAMES = ("HOST", "PORT", "USERNAME", "PASSWORD", "SESSION_ID", "VALIDATE_CERTS", "CA_PATH", "TIMEOUT", "API_VERSION", "RETRIES", "WORKERS")
COLLECTION = "ansible_collections.veeam.enterprise_manager."


def clean_environment(monkeypatch):
    """No VEEAM_EM_* from the caller's environment (each test directory's conftest applies it to every test)."""
    for name in ENV_NAMES:
        monkeypatch.delenv("VEEAM_EM_" + name, raising=False)


def without_jmespath(monkeypatch):
    """Simulate a Python without jmespath: every collection module that recorded the import sees it missing."""
    for name, loaded in list(sys.modules.items()):
        if name.startswith(COLLECTION) and hasattr(loaded, "HAS_JMESPATH"):
            monkeypatch.setattr(loaded, "HAS_JMESPATH", False)
            monkeypatch.setattr(loaded, "JMESPATH_IMPORT_ERROR", ImportError("No module named 'jmespath'"), raising=False)


def module_args(args):
    if patch_module_args is not None:
        return patch_module_args(args)
    return mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8"))


def run_main(module, args, capsys):
    """Run a module's main() as Ansible would; returns (exit code, result dict)."""
    with module_args(args):
        with pytest.raises(SystemExit) as info:
            module.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def connection_args(sim, **extra):
    args = {"host": "127.0.0.1", "port": sim.port, "username": USER, "password": PASSWORD, "ca_path": sim.ca_file}
    args.update(extra)
    return args


class FakeModule:
    """Only what the modules' run() may use of AnsibleModule; anything else is an AttributeError."""

    __slots__ = ("params", "check_mode", "warnings", "no_log_values", "debug_messages")

    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.warnings = []
        self.no_log_values = set()
        self.debug_messages = []

    def warn(self, message):
        self.warnings.append(message)

    def debug(self, message):
        self.debug_messages.append(message)


def parse(spec, params):
    result = ArgumentSpecValidator(spec).validate(params)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters
