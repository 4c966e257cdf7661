# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run an EM module inside the controller process when the task runs on the controller anyway.

A module run serialises every record three times (the module's no_log scrub, its JSON output, the
controller's JSON parse); for 100,000 sessions that is most of the task's time and memory. Even a small
task pays for building and shipping the module and starting a Python interpreter, about a second of
controller CPU, which is what auditing many EMs in one play adds up. When the task's connection is
local, the module's own ARGUMENT_SPEC and run() execute here instead, through the same client opener
(runner.open_client), with the same secret masking of the result and the same check mode. Anything
else (a remote or become connection, a task `environment`, async) runs the module as usual.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import HAS_REQUESTS
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import HAS_DEFUSEDXML
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import HAS_JMESPATH
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import open_client
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.errors import failed_result

display = Display()


class _TaskParams:
    """The part of AnsibleModule that the modules' run() uses.

    no_log_values starts with the values of the spec's no_log options; the client adds the secrets it learns
    (runner.open_client's register_secret) and run() may add or discard some, as with AnsibleModule.
    """

    def __init__(self, params, check_mode, no_log_values):
        self.params = params
        self.check_mode = check_mode
        self.no_log_values = no_log_values
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


def mask_secrets(result, secrets):
    """The result with every secret masked exactly as AnsibleModule.exit_json masks no_log values.

    remove_values() copies the whole result (seconds for 100,000 records), so it runs only when a
    secret actually occurs; finding out takes one pass over the values.
    """
    secrets = {str(secret) for secret in secrets if secret}
    if not secrets:
        return result
    texts, numbers = _scalars(result)
    joined = "\x00".join(texts)
    # remove_values also masks a number whose text contains a secret; only a secret made of number characters can.
    numeric = [secret for secret in secrets if set(secret) <= _NUMBER_CHARACTERS]
    if any(secret in joined for secret in secrets) or (numeric and any(secret in str(number) for number in numbers for secret in numeric)):
        return remove_values(result, secrets)
    return result


_NUMBER_CHARACTERS = frozenset("0123456789+-.eEinfa")


def _scalars(result):
    """Every string and every number in a result, without recursion (a result can be large)."""
    texts = []
    numbers = []
    stack = [result]
    add_text, add_number, push = texts.append, numbers.append, stack.append
    while stack:
        container = stack.pop()
        for item in container.values() if container.__class__ is dict or isinstance(container, Mapping) else container:
            kind = item.__class__
            if kind is str:
                add_text(item)
            elif kind is dict or kind is list:
                push(item)
            elif kind is int or kind is float:
                add_number(item)
            elif item is None or kind is bool:
                continue
            elif isinstance(item, str):  # ansible-core's tagged strings are str subclasses
                add_text(item)
            elif isinstance(item, (Mapping, list, tuple, set, frozenset)):
                push(item)
            elif isinstance(item, (int, float)):
                add_number(item)
    return texts, numbers


class InProcessModuleAction(ActionBase):
    """Subclasses set argument_spec, module_run and module_check_mode to the module's ARGUMENT_SPEC, run and
    SUPPORTS_CHECK_MODE (what its main() gives AnsibleModule)."""

    TRANSFERS_FILES = False
    # Check mode is the module's to decide, in process as in the module (module_check_mode).
    _supports_check_mode = True
    _supports_async = True
    argument_spec = {}
    module_run = None
    module_check_mode = True

    @staticmethod
    def requires_credentials(params):
        """Whether the task needs credentials when no session_id is given, as the module's main() tells execute()."""
        del params
        return True

    def _runs_on_this_controller(self):
        args = self._task.args
        return (
            getattr(self._connection, "transport", None) == "local"
            and not self._task.async_val
            # Ansible keeps [{}] when no environment is set.
            and not any(self._task.environment or ())
            and not self._play_context.become
            # A library this task needs but the controller lacks may be on the module's interpreter.
            and HAS_REQUESTS
            and (HAS_JMESPATH or not args.get("jmespath"))
            and (HAS_DEFUSEDXML or args.get("response_format") != "xml")
        )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if not self._runs_on_this_controller():
            result.update(self._execute_module(module_name=self._task.action, task_vars=task_vars))
            return result
        try:
            validation, params = self.validate_argument_spec(argument_spec=self.argument_spec)
        except AnsibleActionFail as exc:
            # Name the module as the module path would, not this plugin's Python path.
            result.update(failed=True, msg=str(exc).replace("(%s)" % self._load_name, "(%s)" % self._task.action))
            return result
        if self._task.check_mode and not self.module_check_mode:
            result.update(skipped=True, msg="remote module (%s) does not support check mode" % self._task.action)
            return result
        # The values AnsibleModule masks: every no_log option's (fallbacks included), then the secrets the client learns.
        task = _TaskParams(params, bool(self._task.check_mode), set(validation._no_log_values))
        try:
            with open_client(params, warn=task.warn, log=display.vvv, register_secret=task.no_log_values.add,
                             require_credentials=self.requires_credentials(params)) as client:
                result.update(type(self).module_run(task, client))
        except EmError as exc:
            result.update(failed_result(exc))
        if task.warnings:
            result["warnings"] = task.warnings
        return mask_secrets(result, task.no_log_values)
