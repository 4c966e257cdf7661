# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every report renderer reads from a report the same way: labels, sort order, window and evidence lines.

Every string that came from EM (VM, policy and server names, reasons, failure messages) is untrusted;
these helpers return plain text and each renderer escapes it for its format.
"""

from __future__ import annotations

import json

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import COMBINED_KIND, human_duration

# Sort order of rows (worst first); a verdict's rank is compliance_report.VERDICT_ORDER.
STATUS_RANK = {"non_compliant": 0, "unreachable": 0, "warning": 1, "compliant": 2}
STATUS_LABEL = {"compliant": "COMPLIANT", "warning": "WARNING", "non_compliant": "NON COMPLIANT", "incomplete": "INCOMPLETE",
                "unreachable": "UNREACHABLE"}


def is_combined(report):
    return report.get("kind") == COMBINED_KIND


def status_label(status):
    return STATUS_LABEL.get(status, status)


def seconds_text(value):
    return "-" if value is None else human_duration(value)


def sorted_vms(report):
    return sorted(report.get("vms", ()), key=lambda vm: (STATUS_RANK.get(vm.get("status"), 3), str(vm.get("name")).casefold()))


def sorted_policies(report):
    return sorted(report.get("policies") or (), key=lambda item: (STATUS_RANK.get(item.get("status"), 3), str(item.get("name")).casefold()))


def problem_vms(report):
    return [vm for vm in sorted_vms(report) if vm.get("status") != "compliant"]


def active_findings(item):
    """Findings that count: neither waived nor informational."""
    return [finding for finding in item.get("findings") or () if not finding.get("waived") and finding.get("severity") != "info"]


def evidence_meta(report):
    """(label, value) lines naming where the report's data came from."""
    evidence = report.get("evidence") or {}
    if is_combined(report):
        return [("EM servers", ", ".join("%s (%s)" % (em.get("em_host"), em.get("status")) for em in report.get("ems", ())))]
    return [
        ("EM host", evidence.get("em_host")), ("API version", evidence.get("api_version")),
        ("Collection version", evidence.get("collection_version")), ("Query", _query_text(evidence.get("query"))),
    ]


def _query_text(query):
    """The query evidence as compact JSON (the audit module records it as a dict), or as given."""
    if isinstance(query, (dict, list)):
        return json.dumps(query, sort_keys=True, ensure_ascii=False)
    return query


def window_text(report):
    window = report.get("window") or {}
    if not window:
        return "per EM"
    return "%s to %s (%s)" % (window.get("start"), window.get("end"), seconds_text(window.get("seconds")))
