# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every report renderer reads from a report the same way: labels, sort order, window, provenance and scope.

Every string that came from EM (VM, policy and server names, reasons, failure messages) is untrusted;
these helpers return plain text and each renderer escapes it for its format. ``clean_text`` neutralises the
control characters no format should pass on raw (a terminal or viewer would act on them).
"""

from __future__ import annotations

import json
import re

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import COMBINED_KIND, human_duration

# Sort order of rows (worst first); a verdict's rank is compliance_report.VERDICT_ORDER.
STATUS_RANK = {"non_compliant": 0, "unreachable": 0, "warning": 1, "compliant": 2}
STATUS_LABEL = {"compliant": "COMPLIANT", "warning": "WARNING", "non_compliant": "NON COMPLIANT", "incomplete": "INCOMPLETE",
                "unreachable": "UNREACHABLE"}
NOT_RECORDED = "not recorded"
NO_EXPECTED_SCOPE = "no expected scope"

# C0 controls but tab and line breaks, DEL, C1 controls, lone surrogates (not encodable), U+FFFE/U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

# For an outside reader (auditor): what the verdicts mean, in every human-readable format.
HOW_TO_READ = (
    "The verdict is the worst status of any VM or policy: compliant, warning, non compliant; incomplete when the data "
    "was not sufficient (see 'Data complete') or an EM could not be audited.",
    "A VM is non compliant when a violation finding is not waived: a gap in replication coverage longer than allowed, "
    "an RPO breach, failed or stuck replication, or no session at all for a VM that was expected.",
    "Expected scope: the VMs the auditor named as having to be protected. 'no expected scope' means no such list was "
    "given, so a VM missing from EM entirely could not be noticed.",
    "Waived findings are accepted exceptions (reason and expiry shown); they do not count against the verdict.",
    "A policy's configuration status judges the policy's own settings and sessions; its VMs' status is the worst "
    "verdict of the VMs it protects. The policy's status is the worse of the two.",
    "Times are UTC. Provenance (EM version, API version, controller, job) says where the data came from.",
)


def clean_text(value):
    """``value`` as text with control characters made visible: C0 as their control pictures (U+2400 + code),
    DEL as U+2421, C1 and unencodable code points as U+FFFD. Tab and line breaks are kept."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(_picture, text) if _CONTROL.search(text) else text


def _picture(match):
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7f else "\ufffd"


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


def _evidences(report):
    """[(EM host, evidence)]: one for a report, one per audited EM for a combined report."""
    if is_combined(report):
        return [(item.get("em_host"), item) for item in (report.get("evidence") or {}).get("reports") or ()]
    evidence = report.get("evidence") or {}
    return [(evidence.get("em_host"), evidence)]


def _shared(report, line):
    """``line(evidence)`` for the report, or per EM ("host: value; ...") when the EMs of a combined report differ."""
    lines = [(host, line(evidence)) for host, evidence in _evidences(report)]
    values = {value for _host, value in lines}
    if len(values) <= 1:
        return values.pop() if values else NOT_RECORDED
    return "; ".join("%s: %s" % (host, value) for host, value in lines)


def folded_text(finding):
    """The findings folded into this one as evidence of the same root cause, as one line, or ""."""
    return "; ".join("%s/%s: %s" % (item.get("rule"), item.get("code"), item.get("message")) for item in finding.get("folded") or ())


def expected_scope_text(report):
    """The expected VMs (names/patterns) as one line, "no expected scope" for [], "not recorded" when absent."""
    return _shared(report, lambda evidence: _scope_line(evidence.get("expected_vms")))


def _scope_line(names):
    if names is None:
        return NOT_RECORDED
    return ", ".join(str(name) for name in names) if names else NO_EXPECTED_SCOPE


def expected_text(vm):
    """Whether the expected scope named this VM: yes / no / not recorded."""
    return {True: "yes", False: "no"}.get(vm.get("expected"), NOT_RECORDED)


def waiver_text(vm):
    """The active waiver that covered the VM: "until <date>: <reason> (rules)", "no", or "not recorded"."""
    if "waiver" not in vm:
        return NOT_RECORDED
    waiver = vm.get("waiver")
    if not waiver:
        return "no"
    rules = waiver.get("rules")
    return "until %s: %s%s" % (waiver.get("expires") or "no expiry", waiver.get("reason") or "",
                               " (%s)" % ", ".join(str(rule) for rule in rules) if rules else "")


def policy_split(policy):
    """(configuration status, VMs' status, "c/w/n" VM counts) of a policy, "not recorded" where absent."""
    counts = policy.get("vm_counts")
    if counts is None and "compliant" in policy:
        counts = policy
    count_text = NOT_RECORDED if counts is None else "%s / %s / %s" % (
        counts.get("compliant", 0), counts.get("warning", 0), counts.get("non_compliant", 0))
    return (policy.get("config_status") or NOT_RECORDED, policy.get("vms_status") or NOT_RECORDED, count_text)


def _recorded(value):
    return NOT_RECORDED if value is None or value == "" else value


def _awx_text(job):
    if not job:
        return "none" if job is None else NOT_RECORDED
    return "job %s (template %s, launched by %s)" % (_recorded(job.get("id")), _recorded(job.get("template")), _recorded(job.get("launched_by")))


def policy_data_problem(report):
    """"policy data unavailable: ..." when the evidence says policies could not be read, else None."""
    problems = []
    for host, evidence in _evidences(report):
        data = evidence.get("policy_data") or {}
        if data.get("available", True):
            continue
        error = data.get("error") or {}
        detail = " ".join(str(part) for part in (error.get("status"), error.get("message")) if part not in (None, ""))
        problems.append("%s%s" % ("%s: " % host if is_combined(report) else "", detail or "no reason recorded"))
    return "policy data unavailable: %s" % "; ".join(problems) if problems else None


def drift_text(report):
    drift = report.get("drift")
    if not drift:
        return NOT_RECORDED
    if drift.get("previous_audit") is None:
        return "first audit of this scope"
    return ", ".join("%d %s" % (len(drift.get(key) or ()), key) for key in DRIFT_KINDS)


def report_title(report):
    """The user's audit title when every EM's evidence carries the same one, else None."""
    titles = {evidence.get("title") for _host, evidence in _evidences(report)}
    return titles.pop() if len(titles) == 1 and None not in titles else None


DRIFT_KINDS = ("new", "resolved", "persisting", "appeared", "disappeared")
MAX_LISTED = 50


def drift_sections(report):
    """[(kind, [line], more)] of the drift lists that have entries (persisting ones are only counted), or []."""
    drift = report.get("drift") or {}
    sections = []
    for kind in ("new", "resolved", "appeared", "disappeared"):
        entries = drift.get(kind) or []
        if entries:
            lines = [_drift_line(entry) for entry in entries[:MAX_LISTED]]
            sections.append((kind, lines, len(entries) - len(lines)))
    return sections


def _drift_line(entry):
    subject = entry.get("vm") if entry.get("vm") is not None else "policy %s" % entry.get("policy")
    if entry.get("rule") is None:
        return str(subject)
    return "%s: %s/%s%s" % (subject, entry.get("rule"), entry.get("code") or "", ": %s" % entry["message"] if entry.get("message") else "")


def trend_rows(report):
    """(VM, compliant % of audited time, audits, current status, since) of the VMs not always compliant, worst first."""
    trends = report.get("trends") or {}
    rows = []
    for entry in trends.get("vms") or ():
        percent = entry.get("compliant_time_percent", entry.get("compliant_percent"))
        if percent is None or percent >= 100:
            continue
        current = entry.get("current") or {}
        rows.append((entry.get("vm"), percent, entry.get("audits"), current.get("status") or NOT_RECORDED, current.get("since") or "-"))
    return sorted(rows, key=lambda row: (row[1], str(row[0]).casefold()))


def evidence_meta(report):
    """(label, value) lines naming where the report's data came from (provenance), each "not recorded" when absent."""
    evidence = report.get("evidence") or {}
    if is_combined(report):
        lines = [("EM servers", ", ".join("%s (%s)" % (em.get("em_host"), em.get("status")) for em in report.get("ems", ())))]
    else:
        awx = _awx_text(evidence["awx_job"]) if "awx_job" in evidence else NOT_RECORDED
        lines = [
            ("EM host", evidence.get("em_host")), ("EM version", _recorded(evidence.get("em_version"))),
            ("EM build", _recorded(evidence.get("em_build"))), ("API version", _recorded(evidence.get("api_version"))),
            ("Controller", _recorded(evidence.get("controller"))), ("AWX job", awx),
            ("Collection version", evidence.get("collection_version")), ("Query", _query_text(evidence.get("query"))),
        ]
    lines += [("Title", _shared(report, lambda item: _recorded(item.get("title")))),
              ("Period", _shared(report, lambda item: _recorded(item.get("period")))),
              ("Expected scope", expected_scope_text(report)), ("Changes since the previous audit", drift_text(report))]
    problem = policy_data_problem(report)
    if problem:
        lines.insert(0, ("Policy data", problem))
    return lines


def _query_text(query):
    """The query evidence as "key=value; ..." (the audit module records a dict), values as EM got them, unescaped."""
    if isinstance(query, dict):
        return "; ".join("%s=%s" % (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
                         for key, value in query.items())
    if isinstance(query, list):
        return json.dumps(query, ensure_ascii=False)
    return query


def window_text(report):
    window = report.get("window") or {}
    if not window:
        return "per EM"
    return "%s to %s (%s)" % (window.get("start"), window.get("end"), seconds_text(window.get("seconds")))
