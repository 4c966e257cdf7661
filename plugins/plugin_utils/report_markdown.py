# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown report, for tickets and e-mail. Every value from the report goes through ``_md``, which escapes
HTML and Markdown syntax, folds line breaks and makes control characters visible, so a VM name cannot break a
table, inject markup or drive a terminal."""

from __future__ import annotations

import html
import re

from .report_common import (
    HOW_TO_READ,
    MAX_LISTED,
    active_findings,
    clean_text,
    drift_sections,
    evidence_meta,
    expected_text,
    folded_text,
    is_combined,
    policy_data_problem,
    policy_split,
    problem_vms,
    report_title,
    seconds_text,
    sorted_policies,
    status_label,
    trend_rows,
    waiver_text,
    window_text,
)

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def _md(value):
    text = " ".join(clean_text(value).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _header(report):
    summary = report.get("summary") or {}
    data = report.get("data") or {}
    counts = summary.get("findings") or {}
    lines = ["# CDP replication compliance: %s" % _md(status_label(report.get("verdict", "incomplete"))), ""]
    title = report_title(report)
    if title:
        lines += ["**%s**" % _md(title), ""]
    problem = policy_data_problem(report)
    if problem:
        lines += ["**%s**" % _md(problem), ""]
    lines.append("- Audit window: %s" % _md(window_text(report)))
    lines.append("- Generated: %s" % _md(report.get("generated_at")))
    lines.extend("- %s: %s" % (label, _md(value) if value is not None else "-") for label, value in evidence_meta(report)
                 if label != "Policy data")
    lines.append("- Data complete: %s" % ("yes" if data.get("complete", True) else "**no** (%s)" % _md(", ".join(data.get("issues", ())))))
    lines += ["", "| VMs | compliant | warning | non-compliant | RPO breached | replication failed | violations | warnings | waived |",
              "|---|---|---|---|---|---|---|---|---|",
              "| %s |" % " | ".join(_md(value) for value in (
                  summary.get("vms", 0), summary.get("compliant", 0), summary.get("warning", 0), summary.get("non_compliant", 0),
                  summary.get("rpo_breached", 0), summary.get("replication_failed", 0), counts.get("violation", 0),
                  counts.get("warning", 0), summary.get("waived", 0))), ""]
    return lines + ["## How to read this report", ""] + ["- %s" % _md(line) for line in HOW_TO_READ] + [""]


def _report_findings(report):
    if not report.get("findings"):
        return []
    lines = ["## Data and report findings"]
    lines.extend("- %s: %s" % (_md(finding.get("code")), _md(finding.get("message"))) for finding in report["findings"])
    return lines + [""]


def _em_table(report):
    if not is_combined(report):
        return []
    lines = ["## EM servers", "", "| EM | status | verdict | VMs | error |", "|---|---|---|---|---|"]
    lines.extend("| %s | %s | %s | %s | %s |" % (_md(em.get("em_host")), _md(em.get("status")), _md(em.get("verdict")),
                                                 _md((em.get("summary") or {}).get("vms", "-")), _md(em.get("error") or ""))
                 for em in report.get("ems", ()))
    return lines + [""]


def _policy_table(report):
    policies = sorted_policies(report)
    if not policies:
        return []
    lines = ["## Policies", "", "| status | policy | RPO | enabled | configuration | VMs' status | VMs | VMs compliant / warning / non-compliant "
             "| worst breach | findings |", "|---|---|---|---|---|---|---|---|---|---|"]
    for policy in policies:
        worst = policy.get("worst_breach")
        breach = "%s %s (%sx)" % (_md(worst.get("vm")), seconds_text(worst.get("worst_gap_seconds")), _md(worst.get("ratio"))) if worst else "-"
        messages = "; ".join(finding.get("message", "") for finding in policy.get("findings") or () if finding.get("severity") != "info")
        config_status, vms_status, counts = policy_split(policy)
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            _md(policy.get("status")), _md(policy.get("name")), seconds_text(policy.get("rpo_seconds")),
            {True: "yes", False: "no"}.get(policy.get("enabled"), "unknown"), _md(config_status), _md(vms_status), _md(policy.get("vms", 0)),
            _md(counts), breach, _md(messages) or "-"))
    return lines + [""]


def _vm_table(vms, combined):
    lines = ["| status | VM | %sexpected | waiver | policy | coverage | worst gap | findings |" % ("EM | " if combined else ""),
             "|---|---|%s---|---|---|---|---|---|" % ("---|" if combined else "")]
    for vm in vms:
        codes = ", ".join(sorted({str(finding.get("code")) for finding in active_findings(vm)}))
        lines.append("| %s | %s | %s%s | %s | %s | %s%% | %s | %s |" % (
            _md(status_label(vm.get("status"))), _md(vm.get("name")), "%s | " % _md(vm.get("em_host")) if combined else "",
            _md(expected_text(vm)), _md(waiver_text(vm)), _md(vm.get("policy") or "-"), _md(vm.get("coverage_percent")),
            seconds_text(vm.get("worst_gap_seconds")), _md(codes) or "\u2713"))
    return lines + [""]


def _vm_findings(vm, combined):
    where = " @ %s" % _md(vm.get("em_host")) if combined else ""
    lines = ["**%s**%s (%s)" % (_md(vm.get("name")), where, _md(status_label(vm.get("status")))), ""]
    for finding in vm.get("findings") or ():
        waiver = finding.get("waiver") or {}
        folded = folded_text(finding)
        lines.append("- %s %s/%s: %s%s%s%s" % (
            _md(finding.get("severity")), _md(finding.get("rule")), _md(finding.get("code")), _md(finding.get("message")),
            " (waived until %s: %s)" % (_md(waiver.get("expires")), _md(waiver.get("reason"))) if finding.get("waived") else "",
            "; same cause, folded in: %s" % _md(folded) if folded else "", _md_evidence(finding.get("evidence") or {})))
    return lines + [""]


def _md_evidence(evidence):
    sessions = evidence.get("sessions") or evidence.get("gaps") or []
    if not sessions:
        return ""
    parts = []
    for item in sessions[:5]:
        if "from" in item:
            parts.append("gap %s to %s" % (_md(item.get("from")), _md(item.get("to"))))
        else:
            parts.append("%s (%s)" % (_md(item.get("uid")), _md(item.get("reason") or item.get("failure_message") or item.get("creation_time_utc"))))
    more = len(sessions) - 5 + (evidence.get("more") or 0)
    return "; evidence: %s%s" % ("; ".join(parts), " and %d more" % more if more > 0 else "")


def _history(report):
    """Changes since the previous audit and the VMs not always compliant over the trend period, when recorded."""
    lines = []
    sections = drift_sections(report)
    if sections:
        lines += ["## Changes since the previous audit", ""]
        for kind, entries, more in sections:
            lines += ["**%s**" % kind, ""] + ["- %s" % _md(entry) for entry in entries]
            lines += ["- and %d more (see the JSON report)" % more] if more > 0 else []
            lines.append("")
    rows = trend_rows(report)
    if rows:
        days = (report.get("trends") or {}).get("days")
        lines += ["## Not always compliant over the last %s days" % _md(days), "", "| VM | compliant % of audited time | audits | now | since |",
                  "|---|---|---|---|---|"]
        lines += ["| %s |" % " | ".join(_md(value) for value in row) for row in rows[:MAX_LISTED]]
        lines += ["", "%d more VMs; see the JSON report." % (len(rows) - MAX_LISTED)] if len(rows) > MAX_LISTED else []
        lines.append("")
    return lines


def _waivers(report):
    """The VMs an active waiver covered (compliant ones are not in the attention table), or nothing."""
    covered = [vm for vm in report.get("vms") or () if vm.get("waiver")]
    if not covered:
        return []
    return ["## Waivers in effect (%d VMs)" % len(covered), ""] + [
        "- %s%s: %s" % (_md(vm.get("name")), " @ %s" % _md(vm.get("em_host")) if vm.get("em_host") else "", _md(waiver_text(vm)))
        for vm in covered] + [""]


def _attention(report, max_vms):
    combined = is_combined(report)
    problems = problem_vms(report)
    lines = ["## VMs needing attention (%d)" % len(problems), ""]
    if not problems:
        return lines + ["None.", ""]
    lines += _vm_table(problems[:max_vms], combined)
    lines += ["### Findings", ""]
    for vm in problems[:max_vms]:
        lines += _vm_findings(vm, combined)
    if len(problems) > max_vms:
        lines += ["%d more VMs need attention; see the JSON or HTML report." % (len(problems) - max_vms), ""]
    return lines


def render_markdown(report, max_vms=200):
    """Markdown for tickets and e-mail. At most ``max_vms`` VMs needing attention are detailed; the rest are counted."""
    lines = (_header(report) + _report_findings(report) + _em_table(report) + _policy_table(report) + _history(report) + _waivers(report)
             + _attention(report, max_vms))
    return "\n".join(lines)
