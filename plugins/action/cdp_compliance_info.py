# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs cdp_compliance_info in the controller process when the task runs locally (see plugin_utils/info_action.py)."""

from __future__ import annotations

from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_compliance_info as module
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.info_action import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    argument_spec = module.ARGUMENT_SPEC
    module_run = staticmethod(module.run)
    module_check_mode = module.SUPPORTS_CHECK_MODE
