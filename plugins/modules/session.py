#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: session
short_description: Log on to or off from Veeam Backup Enterprise Manager
version_added: 0.1.0
description:
  - With O(state=present), logs on to EM and returns the session id, so that many tasks and lookups can share one EM session
    through their O(session_id) option instead of each logging on and off.
  - With O(state=absent), logs off the session given in O(session_id).
  - EM ends a session after 15 minutes without requests. Log off in an C(always) section when done.
  - The returned RV(session_id) is the one secret this collection ever returns. Do not print it; C(no_log) the tasks that show it.
  - Logging on reports C(changed=false) because it changes nothing that EM manages (no job, policy, setting or data); an audit
    that only logs on and reads would otherwise look like it changed something. Logging off reports C(changed=true), since it
    ends the session that later tasks were using.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.attributes
options:
  state:
    description:
      - V(present) logs on and returns a session id; V(absent) logs off O(session_id).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: With O(state=present) the module logs on in check mode too, so later tasks can read EM; with O(state=absent) it only reports.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
seealso:
  - module: veeam.enterprise_manager.cdp_replica_task_session_info
requirements:
  - requests
  - defusedxml
"""

EXAMPLES = r"""
- name: Audit with one EM session
  block:
    - name: Log on once
      veeam.enterprise_manager.session:
        host: em.example.com
        username: 'EXAMPLE\auditor'
        password: "{{ em_password }}"
      register: em_session
      no_log: true

    - name: Query through the shared session
      veeam.enterprise_manager.cdp_replica_task_session_info:
        host: em.example.com
        session_id: "{{ em_session.session_id }}"
        created_after: -24h
      register: cdp
  always:
    - name: Log off
      veeam.enterprise_manager.session:
        host: em.example.com
        session_id: "{{ em_session.session_id }}"
        state: absent
      when: em_session.session_id is defined
"""

RETURN = r"""
session_id:
  description: The EM session id (value of the C(X-RestSvcSessionId) header). Pass it to other tasks as O(session_id). Treat it as a secret.
  returned: state is present
  type: str
user_name:
  description: The account EM logged on, as EM reports it.
  returned: state is present
  type: str
  sample: EMLAB\auditor
api_version:
  description: The API version asked for at logon.
  returned: state is present
  type: str
  sample: latest
base_url:
  description: The EM base URL used.
  returned: always
  type: str
  sample: https://em.example.com:9398
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import Ownership
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import get_spec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import execute

ARGUMENT_SPEC = dict(get_spec("connection"), state={"type": "str", "default": "present", "choices": ["present", "absent"]})
# Read by the in-process action too (plugins/action/session.py).
SUPPORTS_CHECK_MODE = True


def run(module, client):
    if module.params["state"] == "absent":
        if not module.params["session_id"]:
            raise InvalidInputError("session_id", "is required with state=absent.", "Pass the session_id returned by state=present.")
        if module.check_mode:
            return {"changed": True, "base_url": client.base_url}
        # Take ownership so the client's close() logs it off.
        client.ownership = Ownership.OWNED
        return {"changed": True, "base_url": client.base_url}
    if module.params["session_id"]:
        module.warn("session_id is ignored with state=present: a new EM session is opened.")
    client.ownership = Ownership.HANDED_OUT
    session_id = client.logon()
    # The session id is this module's result: it must not be masked as a no_log value in the output.
    module.no_log_values.discard(session_id)
    # Not a change: logging on alters nothing EM manages, and an audit that logs on must not look like it changed something.
    return {"changed": False, "session_id": session_id, "user_name": client.user_name, "api_version": client.api_version,
            "base_url": client.base_url}


def requires_credentials(params):
    """Logoff needs only the session id; logon needs the credentials."""
    return params["state"] == "present"


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=SUPPORTS_CHECK_MODE)
    execute(module, run, require_credentials=requires_credentials(module.params))


if __name__ == "__main__":
    main()
