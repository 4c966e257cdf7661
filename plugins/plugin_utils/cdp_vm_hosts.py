# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CDP-protected VMs of one EM as inventory hosts: the compliance audit, run once per backup server.

The engine keys VMs by name, so a single evaluator would merge two VMs of one name on two backup servers.
``PerServerEvaluator`` stands in for the audit's evaluator and hands every record to a copy of it per
backup server; the audit itself (queries, paging, verdicts) is unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.audit import prepare_audit, run_audit
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import backup_server_from_links
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.timeutil import em_epoch

HOSTNAME_VM = "vm_display_name"
HOSTNAME_QUALIFIED = "vm_display_name_at_backup_server"
HOSTNAME_CHOICES = (HOSTNAME_VM, HOSTNAME_QUALIFIED)
LAST_SESSION_KEYS = ("uid", "state", "result", "creation_time_utc", "end_time_utc")


def _server_key(uid, name):
    return (uid or "").lower() or (name or "").casefold() or None


class PerServerEvaluator:
    """The audit's evaluator interface, fanned out to one copy of the audit's own evaluator per backup server.

    Each copy is taken from the evaluator ``prepare_audit`` built (never fed), so it carries every setting
    the audit gives it. Policy sessions are looked up by UID only, so every copy gets all of them.
    """

    def __init__(self, template):
        self._template = template
        self._evaluators = {}
        self._policy_sessions = []
        self._truncated = False
        self.evidence = {}
        self.last_sessions = {}

    def _evaluator(self, key):
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            evaluator = self._evaluators[key] = copy.deepcopy(self._template)
            for record in self._policy_sessions:
                evaluator.add_policy_session(record)
        return evaluator

    def add_policy(self, policy):
        if isinstance(policy, Mapping):
            self._evaluator(_server_key(*backup_server_from_links(policy))).add_policy(policy)

    def add_policy_session(self, record):
        self._policy_sessions.append(record)
        for evaluator in self._evaluators.values():
            evaluator.add_policy_session(record)

    def add_session(self, record):
        key = _server_key(record.get("backup_server_uid"), record.get("backup_server_name"))
        self._evaluator(key).add_session(record)
        self._note_last_session(key, record)

    def _note_last_session(self, key, record):
        """Keep the newest session per VM (by creation time): the host's last_session."""
        created = em_epoch(record.get("creation_time_utc"))
        if created is None:
            return
        # The engine's VM name: the display name, else the part of the session name before "@".
        name = record.get("name") or ""
        vm = record.get("vm_display_name") or (name.rsplit("@", 1)[0] if "@" in name else "(unknown VM)")
        known = self.last_sessions.get((key, vm))
        if known is None or created >= known[0]:
            self.last_sessions[(key, vm)] = (created, {field: record.get(field) for field in LAST_SESSION_KEYS})

    def mark_truncated(self, truncated=True):
        self._truncated = self._truncated or bool(truncated)

    def finish(self):
        """One report per backup server, as (server key, report) pairs."""
        reports = []
        for key, evaluator in self._evaluators.items():
            evaluator.mark_truncated(self._truncated)
            evaluator.evidence.update(self.evidence)
            reports.append((key, evaluator.finish()))
        return reports


def prepare_vm_audit(params):
    """Validate the audit options (before any request); returns the AuditPlan that ``audit_vms`` runs.

    The VMs a policy includes are hosts even without a session in the window, so the scope rule takes them from
    the policies (``rules.scope.from_policies``) unless the user's rules say otherwise.
    """
    params = dict(params)
    rules = dict(params.get("rules") or {})
    if isinstance(rules.get("scope", {}), Mapping):
        rules["scope"] = dict({"from_policies": True}, **rules.get("scope", {}))
    params["rules"] = rules
    plan = prepare_audit(params)
    return dataclasses.replace(plan, evaluator=PerServerEvaluator(plan.evaluator))


def audit_vms(client, plan):
    """Run the audit; returns (VM entries, messages of what keeps the data from being complete). One entry per VM and backup server."""
    evaluator = plan.evaluator
    result = run_audit(client, plan)
    vms = []
    issues = []
    for key, report in result["report"]:
        for finding in report["findings"]:
            if finding["code"] in report["data"]["issues"] and finding["message"] not in issues:
                issues.append(finding["message"])
        for vm in report["vms"]:
            if vm.get("pattern"):
                continue
            last = evaluator.last_sessions.get((key, vm["name"]))
            vms.append({
                "vm_display_name": vm["name"],
                "policy": vm["policy"],
                "policy_uid": vm["policy_uid"],
                "rpo_seconds": vm["rpo_seconds"],
                "backup_server": vm["backup_server"],
                "backup_server_uid": vm["backup_server_uid"],
                "verdict": vm["status"],
                "findings": sorted({finding["rule"] for finding in vm["findings"] if not finding["waived"]}),
                "no_data": vm["sessions"] == 0,
                "last_session": last[1] if last else None,
                "em_host": report["em_host"],
            })
    return vms, issues


def _qualified(vm, by_uid=False):
    server = vm["backup_server_uid"] if by_uid else vm["backup_server"] or vm["backup_server_uid"]
    return "%s@%s" % (vm["vm_display_name"], server or "unknown")


def host_names(vms, hostname=HOSTNAME_VM):
    """One distinct host name per VM entry, in order.

    With ``vm_display_name`` a VM keeps its name unless the name is under more than one backup server;
    then each of those is ``<vm>@<backup server name>`` (``<vm>@<backup server UID>`` if two servers share a name).
    ``vm_display_name_at_backup_server`` always qualifies. Two entries never get one name.
    """
    servers = {}
    for vm in vms:
        servers.setdefault(vm["vm_display_name"], set()).add(vm["backup_server_uid"] or vm["backup_server"])
    names = []
    taken = set()
    for vm in vms:
        candidates = [_qualified(vm), _qualified(vm, by_uid=True)]
        if hostname == HOSTNAME_VM and len(servers[vm["vm_display_name"]]) == 1:
            candidates.insert(0, vm["vm_display_name"])
        name = next((candidate for candidate in candidates if candidate not in taken), None)
        if name is None:
            raise ValueError("two VMs named %r on backup server %r cannot be told apart" % (vm["vm_display_name"], vm["backup_server"]))
        taken.add(name)
        names.append(name)
    return names
