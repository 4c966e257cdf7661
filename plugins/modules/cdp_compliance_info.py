#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cdp_compliance_info
short_description: Audit CDP replication compliance per VM through Veeam Backup Enterprise Manager
version_added: 0.1.0
description:
  - Reads the CDP policies, the CDP policy sessions and every CDP replication task session that overlaps the audit window from EM,
    and evaluates per VM whether CDP replication was healthy (coverage gaps, RPO breaches, failures, stuck sessions, freshness,
    expected scope, waivers, policy configuration).
  - Task sessions are evaluated while pages stream in, so an estate of a million sessions is audited without holding them;
    only the report is returned. For sessions you already have as facts, use the P(veeam.enterprise_manager.cdp_compliance#filter) filter.
  - The report format is described in the collection's C(docs/report-format.md), the rules in C(docs/compliance-rules.md).
    Write it to files with M(veeam.enterprise_manager.cdp_compliance_report).
  - EM keeps 30 days of session history and collects data from backup servers every 15 minutes; the report says when the window
    is outside what EM can prove.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.query.PAGING
  - veeam.enterprise_manager.history
  - veeam.enterprise_manager.attributes
  - veeam.enterprise_manager.attributes.info_module
options:
  window_start:
    description:
      - Start of the audit window. ISO 8601 date or datetime with any offset, C(now), or relative such as C(-24h), C(-7d).
    type: str
    default: -24h
  window_end:
    description:
      - End of the audit window, same formats as O(window_start).
    type: str
    default: now
  now:
    description:
      - The time the audit takes as "now" (for reproducible audits). Defaults to the controller's clock.
    type: str
  rules:
    description:
      - "Rule settings and overrides, see C(docs/compliance-rules.md). For example
        C({coverage: {max_gap: 30m}, stuck: {max_task_duration: 10h}, overrides: {vms: {db-*: {freshness: {max_staleness: 2h}}}}})."
    type: dict
  expected_vms:
    description:
      - VM names or shell-style patterns that must be protected. A VM in this list with no task session in the window is non-compliant.
    type: list
    elements: str
  waivers:
    description:
      - Accepted exceptions, each C({vm, reason, expires, rules}). An expired waiver no longer applies and the report says so.
    type: list
    elements: dict
  include_policies:
    description:
      - Also read CDP policies and policy sessions, to judge each VM against its policy's RPO and to check policy configuration.
    type: bool
    default: true
  policy_data:
    description:
      - What to do when EM answers the CdpPolicy or CdpReplicaSession query with an error (for example 403 for an account
        whose EM role cannot read policies) or does not answer it in time.
      - V(optional) reads the task sessions anyway and judges each VM with the rule defaults; the report says
        "policy data unavailable" with EM's status and message (C(evidence.policy_data), C(data.issues)), and its verdict is
        C(incomplete) while every VM keeps its own status.
      - V(required) fails the task with EM's status and message.
      - See C(docs/compliance-role.md) for why V(optional) is the default.
    type: str
    choices: [optional, required]
    default: optional
  vm_display_name:
    description:
      - Limit the audit to these VM name(s), as a server-side filter.
    type: raw
  backup_server_name:
    description:
      - Limit the audit to these backup server name(s), as a server-side filter.
    type: raw
  filter:
    description:
      - A raw EM filter expression ANDed with the window filter.
    type: str
  title:
    description:
      - An audit title recorded in the report's evidence and shown by the reports, for example C(CDP audit Q4 2026).
    type: str
  period:
    description:
      - A period label recorded in the report's evidence, for example C(2026-Q4) or C(December 2026). It is a label only;
        O(window_start) and O(window_end) choose the sessions.
    type: str
  awx_job:
    description:
      - The AWX or Automation Platform job that runs the audit, recorded in the evidence. Keys C(id), C(template) and
        C(launched_by); the C(veeam.enterprise_manager.cdp_compliance) role fills it from the C(awx_job_id),
        C(awx_job_template_name) and C(awx_user_name) (or C(tower_*)) variables AWX sets.
    type: dict
seealso:
  - module: veeam.enterprise_manager.cdp_compliance_report
  - module: veeam.enterprise_manager.cdp_replica_task_session_info
  - module: veeam.enterprise_manager.cdp_compliance_history_info
requirements:
  - requests
  - defusedxml
  - psycopg 3 (only for a postgresql:// O(history) store)
"""

EXAMPLES = r"""
- name: Audit the last 24 hours
  veeam.enterprise_manager.cdp_compliance_info:
    host: em.example.com
    username: 'EXAMPLE\auditor'
    password: "{{ em_password }}"
    ca_path: /etc/pki/em-ca.pem
    expected_vms: [db01, "web-*"]
    waivers:
      - vm: web-legacy-01
        reason: CHG-1234 decommissioning
        expires: "2026-12-31"
  register: audit

- name: Show the verdict
  ansible.builtin.debug:
    msg: "{{ audit.report.verdict }}: {{ audit.report.counts }}"

- name: Audit, record the audit in the history store and compare it with the previous one
  veeam.enterprise_manager.cdp_compliance_info:
    expected_vms: ["db-*"]
    history: /var/lib/cdp-audit/history.db
  register: audit

- name: What changed since the previous audit
  ansible.builtin.debug:
    msg: "{{ audit.drift_counts.new }} new findings, {{ audit.drift_counts.resolved }} resolved: {{ audit.report.drift.new }}"
"""

RETURN = r"""
report:
  description:
    - The compliance report (see C(docs/report-format.md)) with C(verdict) (compliant, warning, non_compliant or incomplete),
      C(counts), per-VM statuses and findings, the per-policy view and the evidence (query, EM host, window, rules,
      generation time, collection version, truncation flag).
    - 'Provenance in C(evidence): C(api_version) (the version the session runs: the requested one, or for C(latest) the newest
      EM lists at C(GET /api/)), C(api_version_requested), C(api_versions_supported), C(em_version) and C(em_build) (null: EM
      does not report them in its documented API), C(controller) (host name), C(awx_job), C(title), C(period).'
    - With O(history), also C(drift) (new, resolved and persisting findings, VMs and policies that appeared or disappeared since the
      previous audit of the same scope), C(trends) (per VM and policy over O(history_trend_days)) and C(history)
      (C({store, schema_version, audit_id, scope_key, evidence_sha256})).
  returned: success
  type: dict
drift_counts:
  description: With O(history), the number of entries in each list of the report's C(drift).
  returned: when O(history) is set
  type: dict
  sample: {new: 3, resolved: 1, persisting: 12, appeared: 0, disappeared: 0}
truncated:
  description: True when O(max_records) stopped reading task sessions (the report is then incomplete).
  returned: success
  type: bool
pages:
  description: Number of query requests made.
  returned: success
  type: int
counts:
  description: Records read per kind (policies, policy_sessions, task_sessions).
  returned: success
  type: dict
window:
  description: The audit window as ISO 8601 UTC.
  returned: success
  type: dict
  sample: {start: "2026-11-28T20:00:00Z", end: "2026-11-29T20:00:00Z"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.audit import policy_data_text, prepare_audit, run_audit
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import check_history_options, hide_url_password, record_in_history
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import get_spec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.provenance import audit_labels, em_provenance
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import execute

ARGUMENT_SPEC = get_spec("connection", "audit", "cdp_filters.vm_display_name", "cdp_filters.backup_server_name", "query.filter", "paging",
                         "provenance", "history")
# Read by the in-process action too (plugins/action/cdp_compliance_info.py).
SUPPORTS_CHECK_MODE = True


def run(module, client):
    hide_url_password(module)
    check_history_options(module.params, days_option="history_trend_days")
    plan = prepare_audit(module.params)
    labels = audit_labels(module.params)
    result = run_audit(client, plan)
    result["report"]["evidence"].update(em_provenance(client, client.api_version), **labels)
    if result["truncated"]:
        module.warn("Stopped at max_records=%d task sessions: the report is incomplete." % plan.max_records)
    unavailable = result["report"]["evidence"]["policy_data"]["error"]
    if unavailable:
        module.warn("Policy data unavailable (%s): each VM was judged with the rule defaults and the report is incomplete; "
                    "policy_data: required fails instead." % policy_data_text(unavailable))
    return record_in_history(module.params, dict(changed=False, **result), [client.base_url])


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=SUPPORTS_CHECK_MODE)
    execute(module, run)


if __name__ == "__main__":
    main()
