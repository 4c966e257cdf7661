# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a query info module inside the controller process when the task runs on the controller anyway.

A module run serialises every record three times (the module's no_log scrub, its JSON output, the
controller's JSON parse); for 100,000 sessions that is most of the task's time and memory. When the
task's connection is local, the same module_utils code runs here instead, with the same argument spec,
environment fallbacks and error messages. Anything else (a remote or become connection, a task
`environment`, async) runs the module as usual.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import HAS_REQUESTS, EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import HAS_DEFUSEDXML
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.module_runner import info_argument_spec, run_info_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import ConnectionConfig
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import HAS_JMESPATH

display = Display()


class _TaskParams:
    """The part of AnsibleModule that run_info_query() uses."""

    def __init__(self, params):
        self.params = params
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


class InfoQueryAction(ActionBase):
    """Subclasses set EXTRA_ARGUMENT_SPEC and PREPARE (a query.prepare_* function)."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True
    EXTRA_ARGUMENT_SPEC = {}
    PREPARE = None

    def _runs_on_this_controller(self):
        return (
            getattr(self._connection, "transport", None) == "local"
            and not self._task.async_val
            # Ansible keeps [{}] when no environment is set.
            and not any(self._task.environment or ())
            and not self._play_context.become
            and HAS_REQUESTS and HAS_DEFUSEDXML and HAS_JMESPATH
        )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if not self._runs_on_this_controller():
            result.update(self._execute_module(module_name=self._task.action, task_vars=task_vars))
            return result
        try:
            dummy, params = self.validate_argument_spec(argument_spec=info_argument_spec(self.EXTRA_ARGUMENT_SPEC))
        except AnsibleActionFail as exc:
            # Name the module as the module path would, not this plugin's Python path.
            result.update(failed=True, msg=str(exc).replace("(%s)" % self._load_name, "(%s)" % self._task.action))
            return result
        task = _TaskParams(params)
        try:
            config = ConnectionConfig.from_options(params)
            with EmClient(config, warn=task.warn, log=display.vvv) as client:
                result.update(run_info_query(task, client, type(self).PREPARE))
        except EmError as exc:
            result.update(failed=True, **exc.to_result())
        if task.warnings:
            result["warnings"] = task.warnings
        return result
