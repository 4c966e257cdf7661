#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cdp_replica_task_session_info
short_description: List CDP replication task sessions from Veeam Backup Enterprise Manager
version_added: 0.1.0
description:
  - Queries Enterprise Manager's query service (C(GET /api/query?type=CdpReplicaTaskSession)) for CDP replication task sessions
    of every backup server connected to EM, with server-side filtering, sorting and paging, and returns normalised records.
  - Every page is fetched (EM returns 100 records per page by default); records are deduplicated by UID, and a result that
    changes while it is paged is fetched again, so records are neither lost nor duplicated.
  - Logs on with O(username) and O(password) and logs off at the end, or reuses O(session_id).
  - Typed filter options are ANDed with each other; a list given to one option is ORed within that field.
  - EM collects data from backup servers every 15 minutes, so the newest sessions may be missing for up to that long.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.query
  - veeam.enterprise_manager.query.PAGING
  - veeam.enterprise_manager.query.CDP_FILTERS
  - veeam.enterprise_manager.attributes
  - veeam.enterprise_manager.attributes.info_module
  - veeam.enterprise_manager.attributes.in_process
seealso:
  - module: veeam.enterprise_manager.session
  - module: veeam.enterprise_manager.query_info
  - plugin: veeam.enterprise_manager.cdp_replica_task_sessions
    plugin_type: lookup
requirements:
  - requests
  - defusedxml
  - jmespath (for O(jmespath))
"""

EXAMPLES = r"""
- name: CDP task sessions of the last 24 hours
  veeam.enterprise_manager.cdp_replica_task_session_info:
    host: em.example.com
    username: 'EXAMPLE\auditor'
    password: "{{ em_password }}"
    ca_path: /etc/pki/em-ca.pem
    created_after: -24h
  register: cdp

- name: The seed example from Veeam's documentation
  veeam.enterprise_manager.cdp_replica_task_session_info:
    created_after: "2021-06-15"
    created_before: "2021-06-16"
    vm_display_name: virt03-ubuntu01
  register: cdp

- name: Failed or warning sessions of two VMs, newest first, as a compact projection
  veeam.enterprise_manager.cdp_replica_task_session_info:
    vm_display_name: [db01, web01]
    created_after: -7d
    result: [Failed, Warning]
    sort_order: desc
    jmespath: "[].{vm: vm_display_name, result: result, reason: reason, at: creation_time_utc}"
  register: problems

- name: Sessions stuck in Pending or InProgress on one backup server, through a shared session
  veeam.enterprise_manager.cdp_replica_task_session_info:
    session_id: "{{ em_session.session_id }}"
    backup_server_name: backupsrv29.tech.local
    state: [Pending, InProgress]
    created_before: -9h
  register: stuck

- name: Raw EM filter ANDed with typed filters
  veeam.enterprise_manager.cdp_replica_task_session_info:
    filter: 'TotalSize>=1073741824,Reason=="Low disk space"'
    created_after: "2026-11-01T00:00:00+01:00"
    max_records: 500
  register: big
"""

RETURN = r"""
sessions:
  description:
    - The task sessions, in the requested order. With O(jmespath), the result of the JMESPath projection instead.
  returned: success
  type: list
  elements: dict
  contains:
    uid:
      description: UID of the task session.
      type: str
      sample: urn:veeam:CdpReplicaTaskSession:787d754e-6399-46f1-8199-2207f0e8fe20
    name:
      description: Name, C(<vm>@<yyyy-MM-dd HH:mm:ss>).
      type: str
      sample: virt03-ubuntu01@2021-06-15 07:00:06
    vm_display_name:
      description: VM name.
      type: str
      sample: virt03-ubuntu01
    policy_session_uid:
      description: UID of the parent CDP policy session.
      type: str
      sample: urn:veeam:CdpReplicaSession:042da2cf-86a9-4d09-9766-be90f3ccd506
    policy_session_name:
      description: Name of the parent CDP policy session (from the Up CdpReplicaSessionReference link).
      type: str
      sample: CDP Policy@2021-06-14 15:00:24
    backup_server_uid:
      description: UID of the backup server, built from the Up BackupServerReference link.
      type: str
      sample: urn:veeam:BackupServer:beda8585-1354-451c-afe2-646dcf42afa6
    backup_server_name:
      description: Backup server name as registered in EM.
      type: str
      sample: backupsrv29.tech.local
    creation_time_utc:
      description: When the task session started, ISO 8601 UTC.
      type: str
      sample: "2021-06-15T07:00:06.787Z"
    end_time_utc:
      description: When it ended, ISO 8601 UTC; null while it runs.
      type: str
      sample: "2021-06-15T15:00:08.847Z"
    state:
      description: C(InProgress), C(Pending) or C(Completed).
      type: str
      sample: Completed
    result:
      description: C(Success), C(Warning), C(Failed) or C(None). Final only once state is C(Completed).
      type: str
      sample: Success
    reason:
      description: Warning or failure reason; null when there is none.
      type: str
      sample: null
    total_size:
      description: Size in bytes of all restore points the task session produced.
      type: int
      sample: 17179869184
    duration_seconds:
      description: End minus creation time in seconds; null while running.
      type: float
      sample: 28802.06
    href:
      description: EM's Href of the entity.
      type: str
    links:
      description:
        - EM's links, each with rel, type, href and name.
        - Only with O(include_links=true).
      type: list
      elements: dict
count:
  description: Number of entries in RV(sessions).
  returned: success
  type: int
  sample: 3
truncated:
  description: True when O(max_records) stopped the query before every matching record was read.
  returned: success
  type: bool
  sample: false
filter:
  description: The EM filter expression built from the options (the snapshot bound added while paging is not included).
  returned: success
  type: str
  sample: CreationTimeUTC>="2021-06-15T00:00:00Z";CreationTimeUTC<="2021-06-16T00:00:00Z";VmDisplayName=="virt03-ubuntu01"
pages:
  description: Number of query requests made; a result that fits on one page costs one.
  returned: success
  type: int
  sample: 1
total:
  description: Number of records matching the server-side filters in the query's snapshot (an empty result is 0); null when
    the query stopped early at O(max_records) before EM's answers showed the number.
  returned: success
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import get_spec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import execute, run_info_query

ARGUMENT_SPEC = get_spec("connection", "query", "paging", "cdp_filters")
# Read by the in-process action too (plugins/action/cdp_replica_task_session_info.py).
SUPPORTS_CHECK_MODE = True


def run(module, client):
    return run_info_query(module, client, prepare_cdp_query)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=SUPPORTS_CHECK_MODE)
    execute(module, run)


if __name__ == "__main__":
    main()
