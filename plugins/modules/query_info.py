#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: query_info
short_description: Run any query type of Veeam Backup Enterprise Manager's query service
version_added: 0.1.0
description:
  - Runs C(GET /api/query?type=<type>) for any EM query type (for example C(CdpReplicaSession), C(CdpPolicy), C(CdpReplica),
    C(ReplicaTaskSession), C(BackupJobSession)), with filtering, sorting and paging, and returns generically normalised records.
  - Attributes and child elements (or JSON keys) become snake_case keys, nested elements become dictionaries, repeated elements
    lists, and C(Links) a list of C({rel, type, href, name}). EM 12 PascalCase and EM 13 camelCase JSON give the same keys.
  - In XML every value is text; element values and nested attributes that are exactly C(true)/C(false) or whole numbers are
    typed like EM's JSON, wrappers that hold only repeated elements (C(Includes), C(TimePeriods)) become lists, and empty or
    null values are left out, so XML and JSON give the same record.
  - For C(CdpReplicaTaskSession) the records have the same shape as M(veeam.enterprise_manager.cdp_replica_task_session_info).
  - The type is passed to EM as given; EM rejects unknown types.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.query
  - veeam.enterprise_manager.query.PAGING
  - veeam.enterprise_manager.query.GENERIC
  - veeam.enterprise_manager.attributes
  - veeam.enterprise_manager.attributes.info_module
  - veeam.enterprise_manager.attributes.in_process
seealso:
  - module: veeam.enterprise_manager.cdp_replica_task_session_info
  - plugin: veeam.enterprise_manager.records
    plugin_type: lookup
requirements:
  - requests
  - defusedxml
  - jmespath (for O(jmespath))
"""

EXAMPLES = r"""
- name: CDP policy sessions of the last two days that failed
  veeam.enterprise_manager.query_info:
    type: CdpReplicaSession
    filters:
      CreationTimeUTC: {">=": -2d}
      Result: Failed
  register: policy_sessions

- name: CDP policies with their RPO settings
  veeam.enterprise_manager.query_info:
    type: CdpPolicy
    # EM splits the RPO into minutes and seconds (a 5-minute RPO is 5 and 0).
    jmespath: >-
      [].{name: name, rpo_minutes: policy_schedule_options.cdp_replica.recovery_point_objective_minutes,
      rpo_seconds: policy_schedule_options.cdp_replica.recovery_point_objective_seconds}
  register: policies

- name: Two VMs' replica task sessions (OR within a field)
  veeam.enterprise_manager.query_info:
    type: ReplicaTaskSession
    filters:
      VmDisplayName: [db01, web01]
    sort_by: CreationTime
    sort_order: desc
    max_records: 50
  register: replica_tasks
"""

RETURN = r"""
records:
  description:
    - The records, in the requested order, normalised generically. With O(jmespath), the result of the JMESPath projection instead.
  returned: success
  type: list
  elements: dict
  sample:
    - uid: urn:veeam:CdpReplicaSession:30a2b685-f858-4f15-9ef6-d3b007a99d2d
      name: CDP Policy@2021-06-15 15:00:08
      policy_uid: urn:veeam:CdpPolicy:872a3860-3805-43b8-bcf6-388384bfed33
      policy_name: CDP Policy
      state: Stopped
      result: Failed
      failure_message: null
count:
  description: Number of entries in RV(records).
  returned: success
  type: int
truncated:
  description: True when O(max_records) stopped the query before every matching record was read.
  returned: success
  type: bool
filter:
  description: The EM filter expression built from O(filters) and O(filter).
  returned: success
  type: str
pages:
  description: Number of query requests made; a result that fits on one page costs one.
  returned: success
  type: int
total:
  description: Number of records matching the server-side filters in the query's snapshot (an empty result is 0); null when
    the query stopped early at O(max_records) before EM's answers showed the number.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import get_spec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_generic_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import execute, run_info_query

ARGUMENT_SPEC = get_spec("connection", "query", "paging", "generic")
# Read by the in-process action too (plugins/action/query_info.py).
SUPPORTS_CHECK_MODE = True


def run(module, client):
    return run_info_query(module, client, prepare_generic_query)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=SUPPORTS_CHECK_MODE)
    execute(module, run)


if __name__ == "__main__":
    main()
