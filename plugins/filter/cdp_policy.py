# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for CDP policy settings as code. Documentation: cdp_policy_remediation_plan.yml next to this file."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.cdp_remediation import remediation_plan
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError


def cdp_policy_remediation_plan(report, standard=None, backup_server_name=None, vm_display_name=None, filter=None):  # pylint: disable=redefined-builtin
    """The audited policies that fail the standard, each with the cdp_policy settings that bring it there."""
    try:
        return remediation_plan(report, standard, backup_server_name=backup_server_name, vm_display_name=vm_display_name,
                                filter_expression=filter)
    except EmError as exc:
        raise AnsibleFilterError("cdp_policy_remediation_plan: %s" % exc.message) from None


class FilterModule:
    """CDP policy filters."""

    def filters(self):
        return {"cdp_policy_remediation_plan": cdp_policy_remediation_plan}
