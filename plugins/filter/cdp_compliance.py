# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters wrapping the CDP compliance engine. Documentation: cdp_compliance.yml,
cdp_compliance_combine.yml and cdp_compliance_render.yml next to this file."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_files import RENDERERS


def cdp_compliance(sessions, rules=None, now=None, window=None, **options):
    """Evaluate task-session records (a list, or a query result with ``sessions``/``records``) into a report.

    ``rules``, ``now`` and ``window`` may be positional; every option is ComplianceEvaluator's, by the same name.
    """
    if isinstance(sessions, Mapping):
        options["truncated"] = bool(options.get("truncated") or sessions.get("truncated"))
        sessions = sessions.get("sessions", sessions.get("records"))
    if sessions is None:
        sessions = []
    if isinstance(sessions, (str, bytes)) or not hasattr(sessions, "__iter__"):
        raise AnsibleFilterError("cdp_compliance expects a list of task-session records or a query result")
    if isinstance(options.get("policies"), Mapping):
        options["policies"] = options["policies"].get("records", options["policies"].get("policies"))
    if isinstance(options.get("policy_sessions"), Mapping):
        options["policy_sessions"] = options["policy_sessions"].get("records", options["policy_sessions"].get("sessions"))
    try:
        return evaluate(sessions, rules=rules, now=now, window=window, **options)
    except EmError as exc:
        raise AnsibleFilterError("cdp_compliance: %s" % exc) from None


def cdp_compliance_combine(reports):
    """Combine per-EM reports (unreachable EMs included) into one report."""
    try:
        return combine_reports(reports)
    except EmError as exc:
        raise AnsibleFilterError("cdp_compliance_combine: %s" % exc) from None


def cdp_compliance_render(report, report_format="markdown"):
    """Render a report as json, html, junit or markdown text."""
    if not isinstance(report, Mapping):
        raise AnsibleFilterError("cdp_compliance_render expects a report dictionary")
    if report_format not in RENDERERS:
        raise AnsibleFilterError("cdp_compliance_render: unknown format %r; known: %s" % (report_format, ", ".join(RENDERERS)))
    return RENDERERS[report_format](report)


class FilterModule:
    """CDP compliance filters."""

    def filters(self):
        return {
            "cdp_compliance": cdp_compliance,
            "cdp_compliance_combine": cdp_compliance_combine,
            "cdp_compliance_render": cdp_compliance_render,
        }
