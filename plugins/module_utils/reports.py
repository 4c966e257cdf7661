# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Renderers for compliance reports built by compliance.py: JSON, HTML, JUnit XML, Markdown.

Every string that came from EM (VM, policy and server names, reasons, failure messages) is
untrusted: HTML and Markdown escape it, JUnit XML escapes it and drops characters XML forbids.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile

from .compliance_report import COMBINED_KIND, human_duration

FORMATS = {"json": ".json", "html": ".html", "junit": ".junit.xml", "markdown": ".md"}
STATUS_RANK = {"non_compliant": 0, "unreachable": 0, "warning": 1, "compliant": 2}
STATUS_LABEL = {"compliant": "COMPLIANT", "warning": "WARNING", "non_compliant": "NON COMPLIANT", "incomplete": "INCOMPLETE",
                "unreachable": "UNREACHABLE"}
VM_RULE_CASES = ("scope", "coverage", "rpo", "failures", "stuck", "freshness")

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _esc(value):
    return html.escape("" if value is None else str(value), quote=True)


def _xml(value):
    return html.escape(_XML_INVALID.sub("\ufffd", "" if value is None else str(value)), quote=True)


def _md(value):
    text = " ".join(("" if value is None else str(value)).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _is_combined(report):
    return report.get("kind") == COMBINED_KIND


def _seconds(value):
    return "-" if value is None else human_duration(value)


def _sorted_vms(report):
    return sorted(report.get("vms", ()), key=lambda vm: (STATUS_RANK.get(vm.get("status"), 3), str(vm.get("name")).casefold()))


def _problem_vms(report):
    return [vm for vm in _sorted_vms(report) if vm.get("status") != "compliant"]


def _evidence_meta(report):
    evidence = report.get("evidence") or {}
    if _is_combined(report):
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


def _window_text(report):
    window = report.get("window") or {}
    if not window:
        return "per EM"
    return "%s to %s (%s)" % (window.get("start"), window.get("end"), _seconds(window.get("seconds")))


def render_json(report):
    """The report as indented JSON (the evidence document)."""
    return json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#1d2430}
h1{margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ccd;padding-bottom:.2em}
.verdict{display:inline-block;padding:.3em .8em;border-radius:4px;font-weight:bold;color:#fff}
.v-compliant{background:#2e7d32}.v-warning{background:#b26a00}.v-non_compliant,.v-unreachable{background:#c62828}.v-incomplete{background:#6a1b9a}
.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}.card{border:1px solid #ccd;border-radius:4px;padding:.4em .8em;min-width:7em}
.card b{display:block;font-size:1.5em}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e3e6ec;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f4f8;position:sticky;top:0;cursor:pointer;user-select:none}th:after{content:" \\2195";color:#99a}
tr.s-non_compliant td:first-child,tr.s-unreachable td:first-child{border-left:4px solid #c62828}
tr.s-warning td:first-child{border-left:4px solid #b26a00}tr.s-compliant td:first-child{border-left:4px solid #2e7d32}
.tl{position:relative;height:12px;min-width:160px;background:#f3c1c1;border-radius:2px}
.tl i{position:absolute;top:0;bottom:0;background:#43a047}
.sev-violation{color:#c62828}.sev-warning{color:#b26a00}.sev-info{color:#546e7a}.waived{text-decoration:line-through}
details{margin:.3em 0}summary{cursor:pointer}table.kv{width:auto;font-size:12px}table.kv th{cursor:auto;position:static}
table.kv th:after{content:""}.muted{color:#667}.tools{margin:.6em 0}code{font-size:12px}
"""

_JS = """
(function(){var t=document.getElementById('vms');if(!t){return;}var b=t.tBodies[0];
function key(r,i,n){var c=r.cells[i],v=c.getAttribute('data-v');if(v===null){v=c.textContent;}return n?(parseFloat(v)||0):v.toLowerCase();}
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){th.addEventListener('click',function(){
var n=th.getAttribute('data-n')==='1',d=th.getAttribute('data-d')==='1'?-1:1;th.setAttribute('data-d',d===1?'1':'0');
var k=Array.prototype.map.call(b.rows,function(r){return [key(r,i,n),r];});
k.sort(function(x,y){return x[0]<y[0]?-d:(x[0]>y[0]?d:0);});var f=document.createDocumentFragment();
k.forEach(function(e){f.appendChild(e[1]);});b.appendChild(f);});});
var q=document.getElementById('q'),p=document.getElementById('p');
function filt(){var s=q.value.toLowerCase(),o=p.checked;Array.prototype.forEach.call(b.rows,function(r){
var ok=(!o||r.getAttribute('data-ok')!=='1')&&(!s||r.textContent.toLowerCase().indexOf(s)>=0);r.style.display=ok?'':'none';});}
q.addEventListener('input',filt);p.addEventListener('change',filt);})();
"""


def _html_value(value):
    if isinstance(value, dict):
        if not value:
            return "-"
        return "<table class=\"kv\">%s</table>" % "".join(
            "<tr><th>%s</th><td>%s</td></tr>" % (_esc(key), _html_value(item)) for key, item in value.items())
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            columns = []
            for item in value:
                columns.extend(key for key in item if key not in columns)
            head = "".join("<th>%s</th>" % _esc(column) for column in columns)
            rows = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % _html_value(item.get(column)) for column in columns) for item in value)
            return "<table class=\"kv\"><tr>%s</tr>%s</table>" % (head, rows)
        return _esc(", ".join("" if item is None else str(item) for item in value)) or "-"
    if value is None:
        return "-"
    return _esc(value)


def _html_findings(findings):
    items = []
    for finding in findings:
        waived = finding.get("waived")
        waiver = finding.get("waiver") or {}
        note = " <span class=\"muted\">(waived until %s: %s)</span>" % (_esc(waiver.get("expires")), _esc(waiver.get("reason"))) if waived else ""
        items.append(
            "<li><span class=\"sev-%s%s\"><b>%s</b> %s/%s</span>: %s%s<details><summary>evidence</summary>%s</details></li>" % (
                _esc(finding.get("severity")), " waived" if waived else "", _esc(finding.get("severity")), _esc(finding.get("rule")),
                _esc(finding.get("code")), _esc(finding.get("message")), note, _html_value(finding.get("evidence") or {})))
    return "<ul>%s</ul>" % "".join(items)


def _timeline(vm, window_seconds):
    if not window_seconds:
        return ""
    bars = []
    for start, end in vm.get("timeline") or ():
        left = max(0.0, min(100.0, 100.0 * start / window_seconds))
        width = max(0.0, min(100.0 - left, 100.0 * (end - start) / window_seconds))
        bars.append("<i style=\"left:%.2f%%;width:%.2f%%\"></i>" % (left, width))
    return "<div class=\"tl\" title=\"%s%% covered\">%s</div>" % (_esc(vm.get("coverage_percent")), "".join(bars))


def _data_complete_html(data):
    if data.get("complete"):
        return "yes"
    return "<b class=\"sev-violation\">no</b>: %s" % _esc(", ".join(data.get("issues", ())))


def render_html(report):
    """One self-contained HTML page (inline CSS and JS, no external assets)."""
    combined = _is_combined(report)
    verdict = report.get("verdict", "incomplete")
    summary = report.get("summary") or {}
    title = "CDP compliance: %s" % (report.get("em_host") or ("%d EM servers" % len(report.get("ems", ())) if combined else "EM"))
    out = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
        "<title>%s</title><style>%s</style></head><body>" % (_esc(title), _CSS),
        "<h1>%s</h1>" % _esc(title),
        "<p><span class=\"verdict v-%s\">%s</span></p>" % (_esc(verdict), _esc(STATUS_LABEL.get(verdict, verdict))),
        "<table class=\"kv\">",
        "<tr><th>Audit window</th><td>%s</td></tr>" % _esc(_window_text(report)),
        "<tr><th>Generated</th><td>%s</td></tr>" % _esc(report.get("generated_at")),
        "<tr><th>Data complete</th><td>%s</td></tr>" % _data_complete_html(report.get("data") or {}),
    ]
    out.extend("<tr><th>%s</th><td>%s</td></tr>" % (_esc(label), _esc(value) if value is not None else "-") for label, value in _evidence_meta(report))
    out.append("</table><div class=\"cards\">")
    findings_counts = summary.get("findings") or {}
    for label, value in (("VMs", summary.get("vms")), ("compliant", summary.get("compliant")), ("warning", summary.get("warning")),
                         ("non-compliant", summary.get("non_compliant")), ("RPO breached", summary.get("rpo_breached")),
                         ("replication failed", summary.get("replication_failed")), ("violations", findings_counts.get("violation")),
                         ("warnings", findings_counts.get("warning")), ("waived", summary.get("waived")), ("policies", summary.get("policies"))):
        out.append("<div class=\"card\"><b>%s</b>%s</div>" % (_esc(value if value is not None else 0), _esc(label)))
    out.append("</div>")
    if report.get("findings"):
        out.append("<h2>Data and report findings</h2>%s" % _html_findings(report["findings"]))
    if combined:
        out.append("<h2>EM servers</h2><table><thead><tr><th>Status</th><th>EM</th><th>Verdict</th><th>VMs</th><th>Error</th></tr></thead><tbody>")
        for em in report.get("ems", ()):
            status = "unreachable" if em.get("status") == "unreachable" else em.get("verdict")
            out.append("<tr class=\"s-%s\"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                _esc(status), _esc(em.get("status")), _esc(em.get("em_host")), _esc(em.get("verdict")),
                _esc((em.get("summary") or {}).get("vms", "-")), _esc(em.get("error") or "")))
        out.append("</tbody></table>")
    out.append(_html_policies(report, combined))
    out.append(_html_vms(report, combined))
    out.append("<script>%s</script></body></html>\n" % _JS)
    return "".join(out)


def _html_policies(report, combined):
    policies = report.get("policies") or []
    if not policies:
        return "<h2>Policies</h2><p class=\"muted\">No CDP policies were supplied.</p>"
    out = ["<h2>Policies</h2><table><thead><tr><th>Status</th>%s<th>Policy</th><th>Backup server</th><th>RPO</th><th>Enabled</th>"
           "<th>VMs</th><th>Compliant</th><th>Worst breach</th><th>Findings</th></tr></thead><tbody>" % ("<th>EM</th>" if combined else "")]
    for policy in sorted(policies, key=lambda item: (STATUS_RANK.get(item.get("status"), 3), str(item.get("name")).casefold())):
        worst = policy.get("worst_breach")
        worst_text = "-"
        if worst:
            worst_text = "%s: %s (%sx, %s)" % (worst.get("vm"), _seconds(worst.get("worst_gap_seconds")), worst.get("ratio"), worst.get("tier"))
        out.append("<tr class=\"s-%s\"><td>%s</td>%s<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
            _esc(policy.get("status")), _esc(policy.get("status")), "<td>%s</td>" % _esc(policy.get("em_host")) if combined else "",
            _esc(policy.get("name")), _esc(policy.get("backup_server") or "-"), _esc(_seconds(policy.get("rpo_seconds"))),
            _esc({True: "yes", False: "no"}.get(policy.get("enabled"), "unknown")), _esc(policy.get("vms")), _esc(policy.get("compliant")),
            _esc(worst_text), _html_findings(policy.get("findings") or []) if policy.get("findings") else "-"))
    out.append("</tbody></table>")
    return "".join(out)


def _html_vms(report, combined):
    vms = _sorted_vms(report)
    window_seconds = (report.get("window") or {}).get("seconds")
    out = ["<h2>VMs</h2><div class=\"tools\"><input id=\"q\" type=\"search\" placeholder=\"filter\"> ",
           "<label><input id=\"p\" type=\"checkbox\"> only VMs needing attention</label> ",
           "<span class=\"muted\">click a column to sort; timeline: green = covered by task sessions, red = gap</span></div>",
           "<table id=\"vms\"><thead><tr><th data-n=\"1\">Status</th>%s<th>VM</th><th>Policy</th><th>Backup server</th>"
           "<th data-n=\"1\">RPO</th><th data-n=\"1\">Coverage %%</th><th data-n=\"1\">Worst gap</th><th data-n=\"1\">Sessions</th>"
           "<th data-n=\"1\">Findings</th><th data-n=\"1\">Timeline</th></tr></thead><tbody>" % ("<th>EM</th>" if combined else "")]
    details = []
    for index, vm in enumerate(vms):
        status = vm.get("status")
        active = [finding for finding in vm.get("findings") or () if not finding.get("waived") and finding.get("severity") != "info"]
        name_cell = _esc(vm.get("name"))
        if vm.get("findings"):
            name_cell = "<a href=\"#vm-%d\">%s</a>" % (index, name_cell)
        out.append(
            "<tr class=\"s-%s\" data-ok=\"%s\"><td data-v=\"%d\">%s</td>%s<td>%s</td><td>%s</td><td>%s</td><td data-v=\"%s\">%s</td>"
            "<td>%s</td><td data-v=\"%s\">%s</td><td>%s</td><td data-v=\"%d\">%s</td><td data-v=\"%s\">%s</td></tr>" % (
                _esc(status), "1" if status == "compliant" else "0", STATUS_RANK.get(status, 3), _esc(STATUS_LABEL.get(status, status)),
                "<td>%s</td>" % _esc(vm.get("em_host")) if combined else "", name_cell, _esc(vm.get("policy") or "-"),
                _esc(vm.get("backup_server") or "-"), _esc(vm.get("rpo_seconds") if vm.get("rpo_seconds") is not None else -1),
                _esc(_seconds(vm.get("rpo_seconds"))), _esc(vm.get("coverage_percent")), _esc(vm.get("worst_gap_seconds") or 0),
                _esc(_seconds(vm.get("worst_gap_seconds"))), _esc(vm.get("sessions")), len(active),
                _esc(", ".join(sorted({finding.get("code") for finding in active}))) or len(active),
                _esc(vm.get("coverage_percent")), _timeline(vm, window_seconds)))
        if vm.get("findings"):
            details.append("<details id=\"vm-%d\"%s><summary class=\"sev-%s\">%s%s: %s</summary>%s</details>" % (
                index, " open" if status == "non_compliant" and len(vms) <= 50 else "",
                "violation" if status == "non_compliant" else "warning" if status == "warning" else "info",
                _esc(vm.get("name")), " @ %s" % _esc(vm.get("em_host")) if combined else "", _esc(STATUS_LABEL.get(status, status)),
                _html_findings(vm["findings"])))
    out.append("</tbody></table>")
    out.append("<h2>Findings per VM</h2>")
    out.append("".join(details) if details else "<p class=\"muted\">No findings.</p>")
    return "".join(out)


# ----------------------------------------------------------------------------- JUnit XML

def _junit_case(classname, name, findings, disabled=False, warnings_as_failures=False):
    active = [finding for finding in findings if not finding.get("waived")]
    failures = [finding for finding in active if finding.get("severity") == "violation" or
                (warnings_as_failures and finding.get("severity") == "warning")]
    waived = [finding for finding in findings if finding.get("waived")]
    body = []
    kind = "pass"
    if failures:
        kind = "failure"
        body.append("<failure message=\"%s\" type=\"%s\">%s</failure>" % (
            _xml(failures[0].get("message")), _xml(failures[0].get("code")),
            _xml("\n".join("[%s] %s: %s\n%s" % (f.get("severity"), f.get("code"), f.get("message"), json.dumps(f.get("evidence"), indent=1))
                           for f in failures))))
    elif disabled:
        kind = "skipped"
        body.append("<skipped message=\"rule disabled\"/>")
    elif waived and not [finding for finding in active if finding.get("severity") != "info"]:
        kind = "skipped"
        waiver = waived[0].get("waiver") or {}
        body.append("<skipped message=\"%s\"/>" % _xml("waived until %s: %s" % (waiver.get("expires"), waiver.get("reason"))))
    other = [finding for finding in findings if finding not in failures]
    if other:
        body.append("<system-out>%s</system-out>" % _xml("\n".join(
            "[%s%s] %s: %s" % (f.get("severity"), ", waived" if f.get("waived") else "", f.get("code"), f.get("message")) for f in other)))
    return kind, "<testcase classname=\"%s\" name=\"%s\" time=\"0\">%s</testcase>" % (_xml(classname), _xml(name), "".join(body))


def _junit_suite(name, cases, timestamp, properties=()):
    counts = {"failure": 0, "skipped": 0, "error": 0}
    xml_cases = []
    for kind, xml_case in cases:
        counts[kind] = counts.get(kind, 0) + 1
        xml_cases.append(xml_case)
    props = "".join("<property name=\"%s\" value=\"%s\"/>" % (_xml(key), _xml(value)) for key, value in properties)
    template = "<testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"0\" timestamp=\"%s\">%s%s</testsuite>"
    return counts, len(xml_cases), template % (
        _xml(name), len(xml_cases), counts["failure"], counts["error"], counts["skipped"], _xml((timestamp or "").rstrip("Z")),
        "<properties>%s</properties>" % props if props else "", "\n".join(xml_cases))


def _junit_report_suites(report, prefix, warnings_as_failures, host_filter=None):
    rules = (report.get("evidence") or {}).get("rules") or {}
    timestamp = report.get("generated_at")
    suites = []
    data = report.get("data") or {}
    data_findings = [f for f in report.get("findings") or () if host_filter is None or f.get("em_host") == host_filter]
    data_case = ("pass", "<testcase classname=\"%s\" name=\"data_sufficiency\" time=\"0\"/>" % _xml(prefix))
    if not data.get("complete", True):
        template = "<testcase classname=\"%s\" name=\"data_sufficiency\" time=\"0\"><error message=\"%s\" type=\"incomplete\">%s</error></testcase>"
        data_case = ("error", template % (
            _xml(prefix), _xml("data insufficient: %s" % ", ".join(data.get("issues", ()))),
            _xml("\n".join(f.get("message", "") for f in data_findings))))
    suites.append(_junit_suite("%s.data" % prefix, [data_case], timestamp,
                               (("verdict", report.get("verdict")), ("window", _window_text(report)))))
    cases = []
    for vm in _sorted_vms(report):
        if host_filter is not None and vm.get("em_host") != host_filter:
            continue
        by_rule = {}
        for finding in vm.get("findings") or ():
            by_rule.setdefault(finding.get("rule"), []).append(finding)
        names = list(VM_RULE_CASES) + sorted(rule for rule in by_rule if rule not in VM_RULE_CASES)
        for rule in names:
            disabled = (rules.get(rule) or {}).get("enabled") is False
            cases.append(_junit_case("%s.%s" % (prefix, vm.get("name")), rule, by_rule.get(rule, []), disabled, warnings_as_failures))
    suites.append(_junit_suite("%s.vms" % prefix, cases, timestamp))
    cases = []
    for policy in report.get("policies") or ():
        if host_filter is not None and policy.get("em_host") != host_filter:
            continue
        cases.append(_junit_case("%s.policy.%s" % (prefix, policy.get("name") or policy.get("uid")), "policy_config",
                                 policy.get("findings") or [], (rules.get("policy_config") or {}).get("enabled") is False, warnings_as_failures))
    if cases:
        suites.append(_junit_suite("%s.policies" % prefix, cases, timestamp))
    return suites


def render_junit(report, warnings_as_failures=False):
    """JUnit XML: one test case per VM and rule (failure = unwaived violation, skipped = waived or disabled)."""
    suites = []
    if _is_combined(report):
        for em in report.get("ems", ()):
            host = em.get("em_host")
            prefix = "cdp_compliance.%s" % host
            if em.get("status") == "unreachable":
                case = ("error", "<testcase classname=\"%s\" name=\"reachable\" time=\"0\"><error message=\"%s\" type=\"unreachable\"/></testcase>" % (
                    _xml(prefix), _xml("EM unreachable: %s" % em.get("error"))))
                suites.append(_junit_suite("%s.data" % prefix, [case], report.get("generated_at")))
                continue
            sub = dict(report, data=em.get("data") or {}, verdict=em.get("verdict"), window=em.get("window"))
            suites.extend(_junit_report_suites(sub, prefix, warnings_as_failures, host_filter=host))
    else:
        suites.extend(_junit_report_suites(report, "cdp_compliance.%s" % (report.get("em_host") or "em"), warnings_as_failures))
    totals = {"tests": 0, "failure": 0, "error": 0, "skipped": 0}
    for counts, tests, _xml_text in suites:
        totals["tests"] += tests
        for key in ("failure", "error", "skipped"):
            totals[key] += counts.get(key, 0)
    head = "<testsuites name=\"CDP replication compliance\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"0\">"
    head = head % (totals["tests"], totals["failure"], totals["error"], totals["skipped"])
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n%s\n%s\n</testsuites>\n" % (head, "\n".join(suite[2] for suite in suites))


# ----------------------------------------------------------------------------- Markdown

def render_markdown(report, max_vms=200):
    """Markdown for tickets and e-mail. At most ``max_vms`` VMs needing attention are detailed; the rest are counted."""
    combined = _is_combined(report)
    summary = report.get("summary") or {}
    verdict = report.get("verdict", "incomplete")
    data = report.get("data") or {}
    lines = ["# CDP replication compliance: %s" % STATUS_LABEL.get(verdict, verdict), ""]
    lines.append("- Audit window: %s" % _md(_window_text(report)))
    lines.append("- Generated: %s" % _md(report.get("generated_at")))
    for label, value in _evidence_meta(report):
        lines.append("- %s: %s" % (label, _md(value) if value is not None else "-"))
    lines.append("- Data complete: %s" % ("yes" if data.get("complete", True) else "**no** (%s)" % _md(", ".join(data.get("issues", ())))))
    counts = summary.get("findings") or {}
    lines += ["", "| VMs | compliant | warning | non-compliant | RPO breached | replication failed | violations | warnings | waived |",
              "|---|---|---|---|---|---|---|---|---|",
              "| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                  summary.get("vms", 0), summary.get("compliant", 0), summary.get("warning", 0), summary.get("non_compliant", 0),
                  summary.get("rpo_breached", 0), summary.get("replication_failed", 0), counts.get("violation", 0),
                  counts.get("warning", 0), summary.get("waived", 0)), ""]
    if report.get("findings"):
        lines.append("## Data and report findings")
        lines.extend("- %s: %s" % (_md(finding.get("code")), _md(finding.get("message"))) for finding in report["findings"])
        lines.append("")
    if combined:
        lines += ["## EM servers", "", "| EM | status | verdict | VMs | error |", "|---|---|---|---|---|"]
        lines.extend("| %s | %s | %s | %s | %s |" % (_md(em.get("em_host")), _md(em.get("status")), _md(em.get("verdict")),
                                                     (em.get("summary") or {}).get("vms", "-"), _md(em.get("error") or ""))
                     for em in report.get("ems", ()))
        lines.append("")
    policies = report.get("policies") or []
    if policies:
        lines += ["## Policies", "", "| status | policy | RPO | enabled | VMs | compliant | worst breach | findings |",
                  "|---|---|---|---|---|---|---|---|"]
        for policy in sorted(policies, key=lambda item: (STATUS_RANK.get(item.get("status"), 3), str(item.get("name")).casefold())):
            worst = policy.get("worst_breach")
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                _md(policy.get("status")), _md(policy.get("name")), _seconds(policy.get("rpo_seconds")),
                {True: "yes", False: "no"}.get(policy.get("enabled"), "unknown"), policy.get("vms", 0), policy.get("compliant", 0),
                "%s %s (%sx)" % (_md(worst.get("vm")), _seconds(worst.get("worst_gap_seconds")), worst.get("ratio")) if worst else "-",
                _md("; ".join(finding.get("message", "") for finding in policy.get("findings") or () if finding.get("severity") != "info")) or "-"))
        lines.append("")
    problems = _problem_vms(report)
    lines.append("## VMs needing attention (%d)" % len(problems))
    lines.append("")
    if problems:
        lines += ["| status | VM | %spolicy | coverage | worst gap | findings |" % ("EM | " if combined else ""),
                  "|---|---|%s---|---|---|---|" % ("---|" if combined else "")]
        for vm in problems[:max_vms]:
            active = [finding for finding in vm.get("findings") or () if not finding.get("waived") and finding.get("severity") != "info"]
            lines.append("| %s | %s | %s%s | %s%% | %s | %s |" % (
                STATUS_LABEL.get(vm.get("status"), vm.get("status")), _md(vm.get("name")),
                "%s | " % _md(vm.get("em_host")) if combined else "", _md(vm.get("policy") or "-"), vm.get("coverage_percent"),
                _seconds(vm.get("worst_gap_seconds")), _md(", ".join(sorted({finding.get("code") for finding in active})))))
        lines.append("")
        lines.append("### Findings")
        lines.append("")
        for vm in problems[:max_vms]:
            where = " @ %s" % _md(vm.get("em_host")) if combined else ""
            lines.append("**%s**%s (%s)" % (_md(vm.get("name")), where, STATUS_LABEL.get(vm.get("status"), vm.get("status"))))
            lines.append("")
            for finding in vm.get("findings") or ():
                waiver = finding.get("waiver") or {}
                lines.append("- %s %s/%s: %s%s%s" % (
                    finding.get("severity"), _md(finding.get("rule")), _md(finding.get("code")), _md(finding.get("message")),
                    " (waived until %s: %s)" % (_md(waiver.get("expires")), _md(waiver.get("reason"))) if finding.get("waived") else "",
                    _md_evidence(finding.get("evidence") or {})))
            lines.append("")
        if len(problems) > max_vms:
            lines.append("%d more VMs need attention; see the JSON or HTML report." % (len(problems) - max_vms))
            lines.append("")
    else:
        lines += ["None.", ""]
    return "\n".join(lines)


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


# ----------------------------------------------------------------------------- files

RENDERERS = {"json": render_json, "html": render_html, "junit": render_junit, "markdown": render_markdown}


def default_basename(report):
    host = report.get("em_host") or ("combined" if _is_combined(report) else "em")
    stamp = str(report.get("generated_at") or "").replace("-", "").replace(":", "").split(".", maxsplit=1)[0].rstrip("Z") + "Z"
    return _FILE_UNSAFE.sub("_", "cdp-compliance-%s-%s" % (host, stamp)).strip("._") or "cdp-compliance"


def _atomic_write(path, text, mode):
    directory = os.path.dirname(path) or "."
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def write_reports(report, directory, formats=("json", "html", "junit", "markdown"), basename=None, mode=0o644):
    """Render and write each format atomically (temp file + rename). Returns {format: path}."""
    formats = [formats] if isinstance(formats, str) else list(formats)
    unknown = [name for name in formats if name not in RENDERERS]
    if unknown:
        raise ValueError("unknown report format %r; known: %s" % (unknown[0], ", ".join(RENDERERS)))
    name = basename or default_basename(report)
    if os.path.basename(name) != name or name in (".", ".."):
        raise ValueError("basename must be a file name without directories: %r" % name)
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for fmt in formats:
        path = os.path.join(directory, name + FORMATS[fmt])
        _atomic_write(path, RENDERERS[fmt](report), mode)
        paths[fmt] = path
    return paths
