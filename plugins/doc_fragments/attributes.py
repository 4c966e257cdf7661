# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/veeam.enterprise_manager.enterprise_manager) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - veeam.enterprise_manager.enterprise_manager
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads from EM, so it runs unchanged in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
    details: The module changes nothing.
"""

    IN_PROCESS = r"""
options: {}
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - When the task runs on the controller (connection C(local), no C(become), no task C(environment), not async), the query runs
        inside the controller process, which saves serialising every record between processes. Otherwise the module runs as usual.
        Results, warnings, errors and the masking of secrets are the same either way.
"""
