# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cdp_vms
short_description: CDP-protected VMs of Veeam Backup Enterprise Manager, grouped by compliance verdict
version_added: 0.2.0
description:
  - "One host per VM in scope of a CDP policy, or seen in a CDP replication task session in the audit window, on one EM.
    Each host carries what the compliance audit (M(veeam.enterprise_manager.cdp_compliance_info)) says about it, and sits in
    the group of its verdict, so a play can act on the VMs an audit names (C(hosts: cdp_non_compliant))."
  - The audit runs once per backup server, so the same VM name under two backup servers gives two hosts, never one.
    Such a VM is named C(<vm>@<backup server name>) (C(<vm>@<backup server UID>) if two backup servers share a name);
    a VM name used under one backup server only stays as it is. O(hostname) can qualify every name.
  - "VM names are used as they are, even when they are not valid DNS host names (spaces, quotes, commas).
    C(ansible_connection) and C(ansible_host) are not set; set them with O(compose), or run tasks with C(delegate_to: localhost)."
  - "Groups: C(cdp_compliant), C(cdp_warning), C(cdp_non_compliant) (the audit's verdict per VM); C(cdp_no_data) (no task session
    in the window; such a VM is in its verdict's group too); C(cdp_policy_<policy name>) and C(cdp_backup_server_<backup server name>),
    made safe by Ansible's group-name rules (every character other than letters, digits and C(_) becomes C(_))."
  - One logon per sync, always logged off (none with O(session_id)). With O(cache) on and a cache entry younger than O(cache_timeout),
    a sync sends no request to EM.
  - The configuration file name must end in C(cdp_vms.yml) or C(cdp_vms.yaml); a key in it that is not an option is an error.
    Connection options come from that file, then extra variables (C(-e veeam_em_*)), then C(VEEAM_EM_*) environment variables
    (an AWX credential sets these), then the C([veeam_enterprise_manager]) section of C(ansible.cfg).
    Play and inventory variables do not reach an inventory plugin.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
extends_documentation_fragment:
  - veeam.enterprise_manager.connection
  - veeam.enterprise_manager.connection.plugins
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; it makes the file a configuration of this inventory source.
    type: str
    required: true
    choices: [veeam.enterprise_manager.cdp_vms]
  window_start:
    description:
      - Start of the audit window, which ends now. ISO 8601 date or datetime with any offset, or relative such as C(-24h), C(-7d).
    type: str
    default: -24h
  rules:
    description:
      - Rule settings and overrides of the audit, as O(veeam.enterprise_manager.cdp_compliance_info#module:rules)
        (see C(docs/compliance-rules.md)).
      - "Unlike the module, C(scope.from_policies) defaults to C(true) here, so that every VM a policy includes is a host; one
        without a task session in the window is then non-compliant (C(no_sessions)) and in C(cdp_no_data).
        With C(scope: {from_policies: false}) such VMs are left out."
    type: dict
  include_policies:
    description:
      - Also read CDP policies and policy sessions, to judge each VM against its policy's RPO and to add the VMs a policy includes
        that have no task session in the window. Without them, hosts are the VMs seen in task sessions, with no policy variables.
    type: bool
    default: true
  hostname:
    description:
      - How hosts are named.
      - C(vm_display_name) is the VM name, qualified as C(<vm>@<backup server name>) only when that name is under more than one
        backup server.
      - C(vm_display_name_at_backup_server) is always C(<vm>@<backup server name>).
    type: str
    choices: [vm_display_name, vm_display_name_at_backup_server]
    default: vm_display_name
  hostvar_prefix:
    description:
      - Prefix of the host variables this plugin sets (C(policy), C(policy_uid), C(rpo_seconds), C(backup_server),
        C(backup_server_uid), C(vm_display_name), C(verdict), C(findings), C(last_session), C(em_host)).
      - O(compose), O(groups) and O(keyed_groups) see the variables with this prefix.
    type: str
    default: veeam_cdp_
seealso:
  - module: veeam.enterprise_manager.cdp_compliance_info
requirements:
  - requests
  - defusedxml
"""

EXAMPLES = r"""
# cdp_vms.yml: credentials from VEEAM_EM_USERNAME and VEEAM_EM_PASSWORD (or an AWX credential)
plugin: veeam.enterprise_manager.cdp_vms
host: em.example.com
ca_path: /etc/pki/em-ca.pem
window_start: -24h
rules:
  freshness:
    max_staleness: 2h
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/veeam_cdp_inventory
cache_timeout: 900
compose:
  ansible_host: veeam_cdp_vm_display_name | lower
keyed_groups:
  - key: veeam_cdp_findings
    prefix: cdp_finding
groups:
  cdp_tier0: veeam_cdp_policy is not none and 'Tier0' in veeam_cdp_policy

# Then: ansible-inventory -i cdp_vms.yml --graph cdp_non_compliant
"""

from ansible.errors import AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

try:
    from ansible.template import trust_as_template  # noqa: F401 pylint: disable=unused-import
except ImportError:  # ansible-core < 2.19 templates every string it finds in host variables
    from ansible.utils.unsafe_proxy import wrap_var as untrusted
else:  # ansible-core 2.19+ never templates values that are not marked as trusted templates
    def untrusted(value):
        return value

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import CONNECTION_OPTIONS
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import open_client
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.cdp_vm_hosts import audit_vms, host_names, prepare_vm_audit
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.errors import inventory_errors

display = Display()

VERDICT_GROUPS = ("cdp_compliant", "cdp_warning", "cdp_non_compliant")
NO_DATA_GROUP = "cdp_no_data"


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "veeam.enterprise_manager.cdp_vms"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("cdp_vms.yml", "cdp_vms.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        unknown = sorted(set(self._read_config_data(path)) - set(self._options))
        if unknown:
            raise AnsibleParserError("%s: unknown option%s %s in %s. See: ansible-doc -t inventory %s" % (
                self.NAME, "" if len(unknown) == 1 else "s", ", ".join(unknown), path, self.NAME))
        cache_key = self.get_cache_key(path)
        read_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        vms = None
        if read_cache:
            try:
                vms = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if vms is None:
            vms = self._fetch_vms()
        if update_cache:
            self._cache[cache_key] = vms
        self._populate(vms)

    def _fetch_vms(self):
        """Audit EM; returns one entry per VM and backup server (what the cache holds: naming and groups come later)."""
        params = {name: self.get_option(name) for name in ("window_start", "rules", "include_policies")}
        connection = {name: self.get_option(name) for name in CONNECTION_OPTIONS}
        with inventory_errors(self.NAME):
            # The audit options are validated here, the connection options by open_client: before any request.
            plan = prepare_vm_audit(params)
            with open_client(connection, warn=display.warning, log=display.vvv) as client:
                display.vvv("%s: auditing the CDP VMs of %s" % (self.NAME, client.base_url))
                vms, issues = audit_vms(client, plan)
        for issue in issues:
            display.warning("%s: the audit data is incomplete: %s" % (self.NAME, issue))
        display.vvv("%s: %d VMs" % (self.NAME, len(vms)))
        return vms

    def _populate(self, vms):
        prefix = self.get_option("hostvar_prefix")
        strict = self.get_option("strict")
        try:
            names = host_names(vms, self.get_option("hostname"))
        except ValueError as exc:
            raise AnsibleParserError("%s: %s" % (self.NAME, exc))
        for group in VERDICT_GROUPS + (NO_DATA_GROUP,):
            self.inventory.add_group(group)
        for host_name, facts in zip(names, vms):
            name = self.inventory.add_host(host_name)
            for key, value in facts.items():
                if key != "no_data":
                    self.inventory.set_variable(name, prefix + key, untrusted(value))
            self.inventory.add_child("cdp_%s" % facts["verdict"], name)
            if facts["no_data"]:
                self.inventory.add_child(NO_DATA_GROUP, name)
            for label, value in (("policy", facts["policy"]), ("backup_server", facts["backup_server"])):
                if value:
                    group = self.inventory.add_group(to_safe_group_name("cdp_%s_%s" % (label, value), force=True, silent=True))
                    self.inventory.add_child(group, name)
            variables = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            variables = self.inventory.get_host(name).get_vars()
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
