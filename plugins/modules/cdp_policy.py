#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cdp_policy
short_description: Set the enabled state, RPO and RPO reporting of a CDP policy through Veeam Backup Enterprise Manager
version_added: 0.2.0
description:
  - Brings one CDP policy to the desired state declared by the options. Only the options you set are compared and changed;
    when EM already matches, nothing is sent and C(changed) is false.
  - O(enabled) uses EM's C(POST /cdpPolicies/{ID}?action=enable) or C(?action=disable); O(rpo), O(rpo_warning) and O(rpo_error)
    are sent in one C(PUT /cdpPolicies/{ID}) that carries only the changed elements, in EM's element order. The PUT goes first,
    so a setting EM refuses (for example an RPO out of range) fails the task with EM's message before anything else is changed.
  - Each change starts an EM task. With O(wait=true) the module follows it at C(GET /tasks/{ID}) until EM reports it
    C(Finished), fails with EM's own message when the task fails, and returns the policy as EM reports it afterwards.
  - The account needs the EM role Portal Administrator. With a read-only account EM answers HTTP 403 to the first change and
    the task fails with a message that says so; nothing has been changed then.
  - The policy's enabled state, RPO and reporting are read by the same functions the compliance audit uses, so this module and
    M(veeam.enterprise_manager.cdp_compliance_info) always agree about a policy.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.attributes
options:
  uid:
    description:
      - UID of the policy, C(urn:veeam:CdpPolicy:<guid>) or the GUID alone. Mutually exclusive with O(name).
    type: str
  name:
    description:
      - Name of the policy. When several backup servers have a policy of that name, set O(backup_server_name) too; an ambiguous or
        unknown name fails with a message that lists the candidates.
    type: str
  backup_server_name:
    description:
      - Name of the backup server the policy belongs to, as registered in EM. Narrows the selection by O(name) or O(uid).
    type: str
  enabled:
    description:
      - V(true) enables the policy, V(false) disables it. Not set, the enabled state is left as it is.
    type: bool
  rpo:
    description:
      - Recovery point objective, in seconds (V(15)) or as a duration such as V(15s), V(2m) or V(1h). Whole seconds only.
      - EM checks the range (Veeam Backup & Replication allows from a few seconds up to an hour) and its refusal fails the task.
    type: raw
  rpo_warning:
    description:
      - RPO reporting at warning level (EM's C(RPOReporting/MarkAsWarning)).
    type: dict
    suboptions:
      enabled:
        description: Whether a policy that misses its RPO by O(rpo_warning.threshold) is marked with a warning.
        type: bool
      threshold:
        description: How late a restore point may be before the warning, in seconds or as a duration (V(30s), V(2m)).
        type: raw
  rpo_error:
    description:
      - RPO reporting at error level (EM's C(RPOReporting/MarkAsFailed)).
    type: dict
    suboptions:
      enabled:
        description: Whether a policy that misses its RPO by O(rpo_error.threshold) is marked as failed.
        type: bool
      threshold:
        description: How late a restore point may be before the error, in seconds or as a duration.
        type: raw
  wait:
    description:
      - Wait for EM's task of each change to finish. With V(false) the module returns once EM accepted the changes; the returned
        RV(policy) may then still show the old settings.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each EM task. When they pass, the task fails and says that EM may still carry the change out.
    type: int
    default: 300
  body_format:
    description:
      - Media type of the PUT body. V(xml) is the format of Veeam's documented examples; V(json) sends the same elements as JSON.
    type: str
    choices: [xml, json]
    default: xml
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the module reads the policy and reports what would change; it sends no change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Before and after of the settings the task manages.
notes:
  - Changes run one after the other (the PUT, then the enable or disable action), each after the previous EM task finished.
    When a later step fails, the message names the tasks that had already finished.
seealso:
  - module: veeam.enterprise_manager.cdp_policy_info
  - module: veeam.enterprise_manager.cdp_compliance_info
requirements:
  - requests
  - defusedxml
"""

EXAMPLES = r"""
- name: Enable a policy and turn both RPO reports on
  veeam.enterprise_manager.cdp_policy:
    name: CDP Tier1 Apps
    backup_server_name: backupsrv30.tech.local
    enabled: true
    rpo_warning:
      enabled: true
    rpo_error:
      enabled: true

- name: Tighten the RPO to 15 seconds, warn after 30 s and fail after 2 min late
  veeam.enterprise_manager.cdp_policy:
    uid: urn:veeam:CdpPolicy:872a3860-3805-43b8-bcf6-388384bfed33
    rpo: 15s
    rpo_warning: {enabled: true, threshold: 30s}
    rpo_error: {enabled: true, threshold: 2m}
  register: policy

- name: Only show what would change
  veeam.enterprise_manager.cdp_policy:
    name: CDP Tier2 Web
    rpo: 5m
  check_mode: true
  diff: true
"""

RETURN = r"""
policy:
  description:
    - The policy as EM reports it after the change (in check mode, or when nothing changed, as it is), in the shape
      M(veeam.enterprise_manager.cdp_policy_info) returns.
  returned: success
  type: dict
  sample:
    uid: urn:veeam:CdpPolicy:872a3860-3805-43b8-bcf6-388384bfed33
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
changes:
  description: The settings that were (in check mode, would be) changed, with their new values; empty when EM already matched.
  returned: success
  type: dict
  sample: {enabled: true, rpo_warning: {enabled: true}}
tasks:
  description: The EM tasks the changes started, in order, as EM last reported them.
  returned: success
  type: list
  elements: dict
  sample:
    - {id: task-3, operation: EditCdpPolicy, state: Finished, success: true, message: Ok}
diff:
  description: Before and after of the managed settings (the options that were set).
  returned: success
  type: dict
  sample:
    before: {enabled: false, rpo_seconds: 60}
    after: {enabled: true, rpo_seconds: 15}
"""

from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import em_task
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.cdp_policy import (
    apply_changes, desired_state, differences, guid_of, managed_view, needs_put, policy_uid, put_body, read_policy, select_policy)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError, InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import get_spec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import execute

# raw: seconds may be given as a number (15) or a duration ("15s"); parse_seconds() checks both.
LEVEL_SPEC = {"type": "dict", "options": {"enabled": {"type": "bool"}, "threshold": {"type": "raw"}}}
ARGUMENT_SPEC = get_spec("connection")
ARGUMENT_SPEC.update({
    "uid": {"type": "str"},
    "name": {"type": "str"},
    "backup_server_name": {"type": "str"},
    "enabled": {"type": "bool"},
    "rpo": {"type": "raw"},
    "rpo_warning": LEVEL_SPEC,
    "rpo_error": LEVEL_SPEC,
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 300},
    "body_format": {"type": "str", "choices": ["xml", "json"], "default": "xml"},
})


def _apply(client, params, policy, changes, tasks):
    """Send the changes (PUT first, then enable/disable), each after the previous task finished."""
    path = "/api/cdpPolicies/%s" % quote(guid_of(policy["uid"]), safe="")
    what = "CDP policy '%s'" % policy["name"]
    steps = []
    if needs_put(changes):
        body, content_type = put_body(policy, changes, params["body_format"])
        steps.append(("PUT", None, body, content_type))
    if "enabled" in changes:
        steps.append(("POST", "action=%s" % ("enable" if changes["enabled"] else "disable"), None, None))
    for method, query, body, content_type in steps:
        try:
            task = em_task.submit(client, method, path, params=query, body=body, content_type=content_type)
            if params["wait"]:
                task = em_task.wait(client, task, params["wait_timeout"], what)
        except EmError as exc:
            if tasks:
                exc.message = "%s (Already finished for this policy: %s.)" % (
                    exc.message, ", ".join("task %s (%s)" % (done["id"], done["operation"]) for done in tasks))
                exc.details["tasks"] = tasks
            raise
        tasks.append(task)


def run(module, client):
    params = module.params
    if params["wait_timeout"] < 1:
        raise InvalidInputError("wait_timeout", "%d is not a number of seconds of at least 1." % params["wait_timeout"], "Use for example 300.")
    desired = desired_state(params)
    if not desired:
        module.warn("No setting to manage was given (enabled, rpo, rpo_warning, rpo_error): the policy is only read.")
    uid = policy_uid(params["uid"]) if params["uid"] else None
    selected = select_policy(client, uid=uid, name=params["name"], backup_server_name=params["backup_server_name"])
    current = read_policy(client, selected["uid"])
    changes = differences(current, desired)
    before = managed_view(current, desired)
    result = {"changed": bool(changes), "changes": changes, "tasks": [], "diff": {"before": before, "after": apply_changes(before, changes)}}
    if changes and not module.check_mode:
        _apply(client, params, current, changes, result["tasks"])
        current = read_policy(client, current["uid"])
        left = differences(current, desired) if params["wait"] else {}
        if left:
            # EM may ignore body elements it does not expect instead of refusing them.
            raise EmError("EM finished the tasks for CDP policy '%s', but the policy still differs from the desired state in %s: %s."
                          % (current["name"], ", ".join(sorted(left)), managed_view(current, left)), tasks=result["tasks"])
    result["policy"] = current
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("uid", "name")],
                           required_one_of=[("uid", "name")])
    execute(module, run)


if __name__ == "__main__":
    main()
