# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: records
short_description: Any query type of Veeam Backup Enterprise Manager's query service
version_added: 0.1.0
description:
  - Returns the records of any EM query type (CdpReplicaSession, CdpPolicy, CdpReplica, ReplicaTaskSession, ...), normalised the way
    M(veeam.enterprise_manager.query_info) returns them in C(records), with the same options and defaults.
  - Options come from keyword arguments, then play/inventory variables (C(veeam_em_*)), then C(VEEAM_EM_*) environment variables,
    then the C([veeam_enterprise_manager]) section of C(ansible.cfg).
  - A lookup runs again every time a variable that uses it is templated; share one EM session through O(session_id).
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.connection.plugins
  - veeam.enterprise_manager.query
  - veeam.enterprise_manager.query.PAGING
  - veeam.enterprise_manager.query.GENERIC
seealso:
  - module: veeam.enterprise_manager.query_info
requirements:
  - requests
  - defusedxml
  - jmespath (for O(jmespath))
"""

EXAMPLES = r"""
- name: Names and RPOs of the CDP policies
  ansible.builtin.debug:
    msg: "{{ query('veeam.enterprise_manager.records', type='CdpPolicy',
             jmespath='[].{name: name, rpo_minutes: policy_schedule_options.cdp_replica.recovery_point_objective_minutes,
                        rpo_seconds: policy_schedule_options.cdp_replica.recovery_point_objective_seconds}') }}"

- name: Failed CDP policy sessions of the last week
  ansible.builtin.set_fact:
    failed_policy_sessions: "{{ query('veeam.enterprise_manager.records', type='CdpReplicaSession',
                                filters={'CreationTimeUTC': {'>=': '-7d'}, 'Result': 'Failed'}) }}"
"""

RETURN = r"""
_raw:
  description:
    - The records (see the C(records) return value of M(veeam.enterprise_manager.query_info)). With O(jmespath), the result of the
      JMESPath projection (wrapped in a list if it is not one).
  type: list
  elements: dict
"""

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_generic_query
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.lookup_base import EmLookupBase


class LookupModule(EmLookupBase):
    OPTION_GROUPS = ("query", "paging", "generic")
    prepare = staticmethod(prepare_generic_query)
