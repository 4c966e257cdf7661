#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cdp_policy_info
short_description: List CDP policies of Veeam Backup Enterprise Manager with their settings normalised
version_added: 0.2.0
description:
  - Reads CDP policies through EM's query service (C(GET /api/query?type=CdpPolicy&format=Entities)) and returns each with its
    settings normalised. RPO and reporting thresholds in seconds (EM splits them into seconds and minutes), RPO warning and error
    reporting, enabled state, platform, next run and backup server.
  - The enabled state, RPO and reporting are read by the same functions the compliance audit uses, so the audit,
    M(veeam.enterprise_manager.cdp_policy) and this module always agree about a policy.
  - O(name) and O(backup_server_name) are sent to EM as a filter; O(enabled) is applied to the normalised policies.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.attributes
  - veeam.enterprise_manager.attributes.info_module
options:
  name:
    description: Only policies with these names (one or a list; OR).
    type: list
    elements: str
  backup_server_name:
    description: Only policies of these backup servers, as registered in EM (one or a list; OR).
    type: list
    elements: str
  enabled:
    description: V(true) for enabled policies only, V(false) for disabled ones only. Not set, both.
    type: bool
  response_format:
    description: Media type asked of EM. Both give the same policies.
    type: str
    choices: [json, xml]
    default: json
seealso:
  - module: veeam.enterprise_manager.cdp_policy
  - module: veeam.enterprise_manager.query_info
requirements:
  - requests
  - defusedxml
"""

EXAMPLES = r"""
- name: All CDP policies
  veeam.enterprise_manager.cdp_policy_info:
  register: cdp_policies

- name: Disabled policies of one backup server
  veeam.enterprise_manager.cdp_policy_info:
    backup_server_name: backupsrv30.tech.local
    enabled: false
  register: disabled

- name: Policies whose RPO is looser than 5 minutes or whose error reporting is off
  ansible.builtin.debug:
    msg: "{{ cdp_policies.policies | selectattr('rpo_seconds', 'gt', 300) | map(attribute='name') | list
             + cdp_policies.policies | rejectattr('rpo_error.enabled') | map(attribute='name') | list }}"
"""

RETURN = r"""
policies:
  description: The policies, ordered by name, then backup server.
  returned: success
  type: list
  elements: dict
  contains:
    uid:
      description: C(urn:veeam:CdpPolicy:<guid>).
      type: str
      returned: always
    name:
      description: Policy name.
      type: str
      returned: always
    backup_server:
      description: Name of the backup server (the policy's Up link).
      type: str
      returned: always
    backup_server_uid:
      description: C(urn:veeam:BackupServer:<guid>).
      type: str
      returned: always
    platform:
      description: C(VMware) or C(vCloud).
      type: str
      returned: always
    description:
      description: Policy description.
      type: str
      returned: always
    enabled:
      description: Whether the policy runs (EM's C(ScheduleEnabled)); null when EM did not say.
      type: bool
      returned: always
    rpo_seconds:
      description: The RPO in seconds; null when EM sent none.
      type: int
      returned: always
    rpo_warning:
      description: Warning-level RPO reporting, C({enabled, threshold_seconds}); values null when EM sent none.
      type: dict
      returned: always
    rpo_error:
      description: Error-level RPO reporting, C({enabled, threshold_seconds}).
      type: dict
      returned: always
    next_run:
      description: Next run as EM reports it (UTC); null when there is none.
      type: str
      returned: always
    vms_included:
      description: Names of the VMs and containers the policy includes.
      type: list
      elements: str
      returned: always
  sample:
    - uid: urn:veeam:CdpPolicy:872a3860-3805-43b8-bcf6-388384bfed33
      name: CDP Policy
      backup_server: backupsrv29.tech.local
      backup_server_uid: urn:veeam:BackupServer:beda8585-1354-451c-afe2-646dcf42afa6
      platform: VMware
      description: Created by EMLAB\Administrator
      enabled: true
      rpo_seconds: 15
      rpo_warning: {enabled: true, threshold_seconds: 30}
      rpo_error: {enabled: true, threshold_seconds: 60}
      next_run: "2025-06-20T12:00:15Z"
      vms_included: [lon-db-00001]
count:
  description: Number of entries in RV(policies).
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.cdp_policy import list_policies
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.filters import all_of, any_of, comparison
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import get_spec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import execute

ARGUMENT_SPEC = get_spec("connection")
ARGUMENT_SPEC.update({
    "name": {"type": "list", "elements": "str"},
    "backup_server_name": {"type": "list", "elements": "str"},
    "enabled": {"type": "bool"},
    "response_format": {"type": "str", "choices": ["json", "xml"], "default": "json"},
})


def policy_filter(params):
    terms = []
    for option, field in (("name", "Name"), ("backup_server_name", "BackupServerName")):
        if params.get(option):
            terms.append(any_of([comparison(field, "==", value) for value in params[option]]))
    return all_of(terms)


def run(module, client):
    params = module.params
    policies = list_policies(client, policy_filter(params), params["response_format"])
    if params["enabled"] is not None:
        policies = [policy for policy in policies if policy["enabled"] is params["enabled"]]
    policies.sort(key=lambda policy: ((policy["name"] or "").casefold(), (policy["backup_server"] or "").casefold(), policy["uid"] or ""))
    return {"changed": False, "policies": policies, "count": len(policies)}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    execute(module, run)


if __name__ == "__main__":
    main()
