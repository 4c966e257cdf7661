# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Each part documents one group of plugins/module_utils/options.py SHARED_SPECS (a unit test checks it):
    # DOCUMENTATION the query group, PAGING paging, CDP_FILTERS cdp_filters, GENERIC generic.
    DOCUMENTATION = r"""
options:
  filter:
    description:
      - A raw EM filter expression, for example C(State=="InProgress";TotalSize>1000).
      - It is ANDed, in parentheses, with the other filter options.
      - EM syntax is C(field<op>value) with C(==), C(!=), C(<), C(<=), C(>), C(>=); C(;) is AND, C(,) is OR, parentheses group.
        Quote strings with double quotes and double any quote inside them.
    type: str
  sort_order:
    description:
      - Sort ascending or descending by the sort field. Sorting is done by EM.
    type: str
    choices: [asc, desc]
    default: asc
  format:
    description:
      - C(entities) returns full records; C(references) returns only UID, name, href, type and links (faster, smaller).
    type: str
    choices: [entities, references]
    default: entities
  jmespath:
    description:
      - "A JMESPath expression applied to the list of records, after filtering, sorting and paging,
        for example C([?result=='Failed'].{vm: vm_display_name, reason: reason})."
      - An invalid expression fails before any request is sent. Needs the C(jmespath) Python library, only when set.
    type: str
"""

    PAGING = r"""
options:
  page_size:
    description:
      - Records asked for per request, from 1 to 1000. EM's own default is 100; larger pages mean fewer round trips.
    type: int
    default: 1000
  max_records:
    description:
      - Stop after this many records (task sessions, for the compliance audit, whose report is then marked incomplete).
        The result then has C(truncated=true) and the task warns, so a cut-off result is never mistaken for a complete one.
        Unset means every matching record.
    type: int
  response_format:
    description:
      - Ask EM for JSON or XML. Records (and audit reports) come out identical either way (EM 12 PascalCase and EM 13 camelCase JSON included).
      - JSON is faster to read (see the collection's C(docs/performance.md)). XML is EM's documented representation;
        choose it if a JSON answer of your EM is ever not understood. Reading XML may need the C(defusedxml) Python library.
    type: str
    choices: [json, xml]
    default: json
"""

    CDP_FILTERS = r"""
options:
  id:
    description:
      - UID(s) of task sessions, for example C(urn:veeam:CdpReplicaTaskSession:787d754e-6399-46f1-8199-2207f0e8fe20). A list is ORed.
    type: raw
  name:
    description:
      - Task session name(s), C(<vm>@<yyyy-MM-dd HH:mm:ss>). A list is ORed.
    type: raw
  vm_display_name:
    description:
      - VM name(s). A list is ORed.
    type: raw
  policy_session_uid:
    description:
      - UID(s) of the parent CDP policy session. A list is ORed.
    type: raw
  policy_session_name:
    description:
      - Name(s) of the parent CDP policy session, C(<policy>@<time>). A list is ORed.
    type: raw
  backup_server_uid:
    description:
      - UID(s) of the backup server, C(urn:veeam:BackupServer:<guid>). A list is ORed.
    type: raw
  backup_server_name:
    description:
      - Backup server name(s) as registered in EM. A list is ORed.
    type: raw
  state:
    description:
      - Task session state(s) C(InProgress), C(Pending), C(Completed) (case-insensitive). A list is ORed.
    type: raw
  reason:
    description:
      - Exact Reason text(s) of warning or failed sessions. A list is ORed.
    type: raw
  result:
    description:
      - Result(s) C(Success), C(Warning), C(Failed), C(None) (case-insensitive). A list is ORed.
      - EM does not document Result as a filter field of this query type, so this filter is applied on the controller after fetching.
        Combine it with a time window to keep the transfer small.
    type: raw
  total_size_min:
    description:
      - Smallest TotalSize in bytes (inclusive).
    type: int
  total_size_max:
    description:
      - Largest TotalSize in bytes (inclusive).
    type: int
  created_after:
    description:
      - Sessions created at or after this time (inclusive). An ISO 8601 date or datetime with any offset (converted to UTC),
        C(now), or a relative time such as C(-30m), C(-24h), C(-7d).
    type: str
  created_before:
    description:
      - Sessions created at or before this time (inclusive). Same formats as O(created_after).
    type: str
  ended_after:
    description:
      - Sessions that ended at or after this time (inclusive). Running sessions have no end time and never match.
    type: str
  ended_before:
    description:
      - Sessions that ended at or before this time (inclusive).
    type: str
  sort_by:
    description:
      - Field to sort by, one of C(Id), C(Name), C(PolicySessionUid), C(PolicySessionName), C(BackupServerUid), C(BackupServerName),
        C(CreationTimeUTC), C(EndTimeUTC), C(State), C(Reason), C(TotalSize), C(VmDisplayName) (case-insensitive).
    type: str
    default: CreationTimeUTC
  include_links:
    description:
      - Add EM's links (C(rel), C(type), C(href), C(name) each) to every record as C(links).
      - Every record already carries what the links say (C(backup_server_uid), C(backup_server_name), C(policy_session_name)),
        and the links are more than half of a record's size, so they are left out unless asked for.
      - Only with O(format=entities); references always keep their links.
    type: bool
    default: false
"""

    GENERIC = r"""
options:
  type:
    description:
      - The EM query type, for example C(CdpReplicaSession), C(CdpPolicy), C(CdpReplica), C(CdpReplicaTaskSession),
        C(ReplicaTaskSession), C(BackupJobSession). Passed through to EM.
    type: str
    required: true
  filters:
    description:
      - Field names to values. A value is compared with C(==); a list of values is ORed; a dictionary maps operators
        (C(==), C(!=), C(<), C(<=), C(>), C(>=), or C(eq), C(ne), C(lt), C(le), C(gt), C(ge)) to values, ANDed.
      - Strings are quoted and escaped. For fields whose name contains C(Time) or C(Date), ISO 8601 values with any offset and
        relative times (C(now), C(-24h), C(-7d)) are converted to UTC.
      - Fields are ANDed with each other and with O(filter).
    type: dict
  sort_by:
    description:
      - Field to sort by, one of the type's documented fields (for CDP sessions C(CreationTimeUTC)). Unset leaves EM's order.
    type: str
"""
