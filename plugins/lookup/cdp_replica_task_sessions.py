# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cdp_replica_task_sessions
short_description: CDP replication task sessions from Veeam Backup Enterprise Manager
version_added: 0.1.0
description:
  - Returns the CDP replication task sessions that match the options, as the list of normalised records that
    M(veeam.enterprise_manager.cdp_replica_task_session_info) returns in C(sessions), with the same filters and defaults.
  - Options come from keyword arguments, then play/inventory variables (C(veeam_em_*)), then C(VEEAM_EM_*) environment variables,
    then the C([veeam_enterprise_manager]) section of C(ansible.cfg). C(module_defaults) does not reach lookups.
  - A lookup runs again every time a variable that uses it is templated. To avoid one logon per evaluation, log on once with
    M(veeam.enterprise_manager.session) and pass O(session_id), or register the module's result instead.
  - Use C(query()) or C(wantlist=true). With plain C(lookup()) a single record comes back as a dictionary, not a list.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.connection.plugins
  - veeam.enterprise_manager.query
  - veeam.enterprise_manager.query.PAGING
  - veeam.enterprise_manager.query.CDP_FILTERS
seealso:
  - module: veeam.enterprise_manager.cdp_replica_task_session_info
  - module: veeam.enterprise_manager.session
requirements:
  - requests
  - defusedxml
  - jmespath (for O(jmespath))
"""

EXAMPLES = r"""
- name: Assert that no CDP task session failed in the last day
  ansible.builtin.assert:
    that: failed | length == 0
    fail_msg: "{{ failed | map(attribute='vm_display_name') | list }} failed"
  vars:
    failed: "{{ query('veeam.enterprise_manager.cdp_replica_task_sessions', created_after='-24h', result='Failed') }}"

- name: Through a session opened once by the session module
  ansible.builtin.debug:
    msg: "{{ query('veeam.enterprise_manager.cdp_replica_task_sessions', session_id=em_session.session_id,
             vm_display_name='virt03-ubuntu01', jmespath='[].{at: creation_time_utc, result: result}') }}"
"""

RETURN = r"""
_raw:
  description:
    - The task-session records (see the C(sessions) return value of M(veeam.enterprise_manager.cdp_replica_task_session_info)).
      With O(jmespath), the result of the JMESPath projection (wrapped in a list if it is not one).
  type: list
  elements: dict
"""

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.lookup_base import EmLookupBase


class LookupModule(EmLookupBase):
    OPTION_GROUPS = ("query", "paging", "cdp_filters")
    prepare = staticmethod(prepare_cdp_query)
