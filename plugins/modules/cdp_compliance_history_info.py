#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cdp_compliance_history_info
short_description: CDP compliance trends per VM and per policy from the audit history store
version_added: 0.1.0
description:
  - Reads the audits that M(veeam.enterprise_manager.cdp_compliance_info) (option O(veeam.enterprise_manager.cdp_compliance_info#module:history))
    or the C(cdp_compliance) role (variable C(cdp_compliance_history)) appended to a history store, and returns per VM and per policy
    the share of audits and of audited time in which it was compliant over the last O(days) days, its longest non-compliant streak,
    and since when its current state holds.
  - EM keeps CDP task sessions for about 30 days; the history store keeps every audit, so trends reach as far back as audits were recorded.
  - Audited time counts each instant once, for the latest-ending audit whose window covers it, so overlapping audit windows
    (a 24 h window audited every hour) are not counted twice.
  - The store and its schema are described in the collection's C(docs/history.md). Opening a store written by an older collection
    version migrates its schema.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.attributes
  - veeam.enterprise_manager.attributes.info_module
options:
  history:
    description:
      - The history store. A file path or C(sqlite:///absolute/path) for an SQLite file, or a C(postgresql://user@host:port/database) URL
        (needs the Python library psycopg 3).
      - The URL must not hold a password (Ansible would log it with the option); the password is taken from O(history_password),
        or from libpq's C(PGPASSWORD) or C(PGPASSFILE) environment variables, as an AWX credential injects them.
    type: str
    required: true
  history_password:
    description:
      - Password of the PostgreSQL store. Never printed.
    type: str
  days:
    description:
      - Length of the trend period in days, ending at O(now).
    type: int
    default: 90
  now:
    description:
      - End of the trend period. ISO 8601 date or datetime, C(now), or relative such as C(-1d).
    type: str
    default: now
  scope_key:
    description:
      - Only audits of this scope (same EM hosts, expected VMs and name filters), as C(history.scope_key) of an audit report says.
    type: str
  em_hosts:
    description:
      - Only audits of these EM hosts, as the reports name them (C(https://em.example.com:9398)).
    type: list
    elements: str
  vms:
    description:
      - Only these VMs (names or shell-style patterns).
    type: list
    elements: str
  policies:
    description:
      - Only these CDP policies (names or shell-style patterns).
    type: list
    elements: str
seealso:
  - module: veeam.enterprise_manager.cdp_compliance_info
requirements:
  - psycopg 3 (only for a postgresql:// store)
"""

EXAMPLES = r"""
- name: Trends of the last 90 days
  veeam.enterprise_manager.cdp_compliance_history_info:
    history: /var/lib/cdp-audit/history.db
  register: history

- name: VMs that were not compliant in every audit
  ansible.builtin.debug:
    msg: "{{ item.vm }}: {{ item.compliant_percent }}% of {{ item.audits }} audits, {{ item.current.status }} since {{ item.current.since }}"
  loop: "{{ history.trends.vms | rejectattr('compliant_percent', '==', 100.0) }}"

- name: A quarter from a PostgreSQL store (password from PGPASSWORD, as an AWX credential injects it)
  veeam.enterprise_manager.cdp_compliance_history_info:
    history: postgresql://cdp_audit@db.example.com:5432/cdp_history
    days: 92
    now: "2026-10-01"
    vms: ["db-*"]
  register: quarter
"""

RETURN = r"""
store:
  description: The store, with any password masked.
  returned: success
  type: str
  sample: postgresql://cdp_audit@db.example.com:5432/cdp_history
schema_version:
  description: The store's schema version after opening it.
  returned: success
  type: int
trends:
  description:
    - C(days), C(since), C(until), C(scope_key), C(audits) (how many), and lists C(vms) and C(policies) with one entry each
      (C(vm), or C(policy) and C(policy_uid)) holding C(audits), C(by_status), C(compliant_percent) (of audits),
      C(audited_seconds), C(compliant_seconds), C(compliant_time_percent) (of audited time), C(longest_non_compliant_streak)
      (C({audits, seconds, start, end, ongoing}) or null), C(current) (C({status, since, previous_status, previous_audit_at})),
      C(first_audit), C(last_audit). See C(docs/history.md).
  returned: success
  type: dict
audits:
  description:
    - The audits of the period, oldest first, each with C(id), C(audited_at), C(window_start), C(window_end), C(scope_key), C(em_hosts),
      C(verdict), C(evidence_sha256) (of the audit's JSON evidence), C(collection_version), C(vms), C(policies).
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import (
    DEFAULT_DAYS,
    check_history_options,
    hide_url_password,
    read_trends,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import get_spec

ARGUMENT_SPEC = dict(get_spec("history.history", "history.history_password"), **{
    "history": dict(get_spec("history.history")["history"], required=True),
    "days": {"type": "int", "default": DEFAULT_DAYS},
    "now": {"type": "str", "default": "now"},
    "scope_key": {"type": "str", "no_log": False},  # a hash, not a secret
    "em_hosts": {"type": "list", "elements": "str"},
    "vms": {"type": "list", "elements": "str"},
    "policies": {"type": "list", "elements": "str"},
})


def run(module):
    params = module.params
    check_history_options(params)
    return dict(changed=False, **read_trends(params["history"], password=params["history_password"], days=params["days"], now=params["now"],
                                             scope=params["scope_key"], em_hosts=params["em_hosts"], vms=params["vms"],
                                             policies=params["policies"]))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # Refused below, but the invocation echoed in the result must not show it either.
    hide_url_password(module)
    try:
        result = run(module)
    except EmError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
