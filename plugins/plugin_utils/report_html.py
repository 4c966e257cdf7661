# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report: one self-contained page (inline CSS, JS and SVG, no external assets, a CSP that forbids any).

Rendered by a Jinja2 template with autoescape on, so every value from the report is escaped unless the
code marks it safe; only the constant CSS and script and the SVG that ElementTree built (and escaped) are.
The Content-Security-Policy allows exactly that one style element and that one script, by their SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import html

from jinja2 import Environment
from markupsafe import Markup

from .report_charts import gap_chart, policy_chart, timeline_svg, trend_chart
from .report_common import (
    HOW_TO_READ,
    STATUS_RANK,
    active_findings,
    clean_text,
    drift_sections,
    evidence_meta,
    expected_text,
    folded_text,
    is_combined,
    policy_data_problem,
    policy_split,
    report_title,
    seconds_text,
    sorted_policies,
    sorted_vms,
    status_label,
    waiver_text,
    window_text,
)

_CSS = Markup("""
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
svg.tl{display:block}figure{margin:1em 0}figcaption{font-size:12px;color:#667;max-width:60em}svg.chart{max-width:100%;height:auto}
.ok{color:#2e7d32}.howto li{margin:.2em 0}
@media print{.tools{display:none}details{display:block}th{position:static}svg.chart{break-inside:avoid}}
.sev-violation{color:#c62828}.sev-warning{color:#b26a00}.sev-info{color:#546e7a}.waived{text-decoration:line-through}
details{margin:.3em 0}summary{cursor:pointer}table.kv{width:auto;font-size:12px}table.kv th{cursor:auto;position:static}
table.kv th:after{content:""}.muted{color:#667}.tools{margin:.6em 0}code{font-size:12px}
""")

# Sorts the VM table by a clicked column and filters it by text and by "needs attention".
_JS = Markup("""
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
""")

# Values are always written with {{ }} (escaped); nothing from a report is marked safe but ElementTree's SVG.
_TEMPLATE = """\
{%- macro value(item) -%}
{%- if item is mapping -%}
{%- if item %}<table class="kv">{% for key, sub in item.items() %}<tr><th>{{ key }}</th><td>{{ value(sub) }}</td></tr>{% endfor %}</table>
{%- else %}-{% endif -%}
{%- elif item is sequence and item is not string -%}
{%- if item and item | reject('mapping') | list | length == 0 -%}
{%- set columns = item | columns -%}
<table class="kv"><tr>{% for column in columns %}<th>{{ column }}</th>{% endfor %}</tr>
{%- for row in item %}<tr>{% for column in columns %}<td>{{ value(row.get(column)) }}</td>{% endfor %}</tr>{% endfor %}</table>
{%- else %}{{ item | map('text') | join(', ') or '-' }}{% endif -%}
{%- elif item is none %}-{% else %}{{ item }}{% endif -%}
{%- endmacro -%}

{%- macro findings_list(findings) -%}
<ul>{% for f in findings %}<li><span class="sev-{{ f.severity }}{{ ' waived' if f.waived else '' }}">
{{- '' }}<b>{{ f.severity }}</b> {{ f.rule }}/{{ f.code }}</span>: {{ f.message }}
{%- if f.waived %}{% set waiver = f.waiver or {} %} <span class="muted">(waived until {{ waiver.expires }}: {{ waiver.reason }})</span>{% endif -%}
{%- if f.folded %}<div class="muted">same cause, folded in: {{ f | folded }}</div>{% endif -%}
<details><summary>evidence</summary>{{ value(f.evidence or {}) }}</details></li>{% endfor %}</ul>
{%- endmacro -%}

<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{ title }}</title><style>{{ css }}</style></head><body>
<h1>{{ title }}</h1>
{% if audit_title %}<p><b>{{ audit_title }}</b></p>{% endif %}
<p><span class="verdict v-{{ verdict }}">{{ verdict | label }}</span></p>
{% if policy_problem %}<p class="sev-violation"><b>{{ policy_problem }}</b></p>{% endif %}
<table class="kv">
<tr><th>Audit window</th><td>{{ window }}</td></tr>
<tr><th>Generated</th><td>{{ report.generated_at }}</td></tr>
<tr><th>Data complete</th><td>{% if data.complete %}yes{% else %}<b class="sev-violation">no</b>: {{ data.issues | default([], true) | join(', ') }}
{%- endif %}</td></tr>
{% for label, item in meta %}<tr><th>{{ label }}</th><td>{{ '-' if item is none else item }}</td></tr>
{% endfor %}</table><div class="cards">
{% for label, count in cards %}<div class="card"><b>{{ 0 if count is none else count }}</b>{{ label }}</div>{% endfor %}
</div>
<details class="howto"><summary>How to read this report</summary><ul>{% for line in how_to_read %}<li>{{ line }}</li>{% endfor %}</ul></details>
<h2>Charts</h2>
{% for chart in charts %}{{ chart }}
{% endfor %}
{% if not has_trend %}<p class="muted">Compliance over time: not recorded (the report has no trends from a history store).</p>
{% endif %}
{% if drift %}<h2>Changes since the previous audit</h2>
{% for kind, entries, more in drift %}<h3>{{ kind }}</h3><ul>{% for entry in entries %}<li>{{ entry }}</li>{% endfor %}
{% if more > 0 %}<li class="muted">and {{ more }} more (see the JSON report)</li>{% endif %}</ul>
{% endfor %}{% endif %}
{% if report.findings %}<h2>Data and report findings</h2>{{ findings_list(report.findings) }}
{% endif %}
{% if combined %}<h2>EM servers</h2><table><thead><tr><th>Status</th><th>EM</th><th>Verdict</th><th>VMs</th><th>Error</th></tr></thead><tbody>
{% for em in report.ems %}<tr class="s-{{ 'unreachable' if em.status == 'unreachable' else em.verdict }}"><td>{{ em.status }}</td><td>{{ em.em_host }}</td>
<td>{{ em.verdict }}</td><td>{{ (em.summary or {}).get('vms', '-') }}</td><td>{{ em.error or '' }}</td></tr>
{% endfor %}</tbody></table>
{% endif %}
<h2>Policies</h2>
{% if policies %}<table id="policies"><thead><tr><th>Status</th>{% if combined %}<th>EM</th>{% endif %}<th>Policy</th><th>Backup server</th>
<th>RPO</th><th>Enabled</th><th>Configuration</th><th>VMs' status</th><th>VMs</th>
<th>VMs compliant / warning / non-compliant</th><th>Worst breach</th><th>Findings</th></tr></thead><tbody>
{% for p in policies %}{% set split = p | policy_split %}
<tr class="s-{{ p.status }}"><td>{{ p.status }}</td>{% if combined %}<td>{{ p.em_host }}</td>{% endif %}<td>{{ p.name }}</td>
<td>{{ p.backup_server or '-' }}</td><td>{{ p.rpo_seconds | duration }}</td><td>{{ {true: 'yes', false: 'no'}.get(p.enabled, 'unknown') }}</td>
<td>{{ split[0] }}</td><td>{{ split[1] }}</td>
<td>{{ p.vms }}</td><td>{{ split[2] }}</td><td>{{ p | worst_breach }}</td><td>{{ findings_list(p.findings) if p.findings else '-' }}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p class="muted">No CDP policies were supplied.</p>
{% endif %}
<h2>VMs</h2><div class="tools"><input id="q" type="search" placeholder="filter">
<label><input id="p" type="checkbox"> only VMs needing attention</label>
<span class="muted">click a column to sort; timeline: green = covered by task sessions, red = gap</span></div>
<table id="vms"><thead><tr><th data-n="1">Status</th>{% if combined %}<th>EM</th>{% endif %}<th>VM</th>
<th>Expected</th><th>Waiver</th><th>Policy</th><th>Backup server</th>
<th data-n="1">RPO</th><th data-n="1">Coverage %</th><th data-n="1">Worst gap</th><th data-n="1">Sessions</th>
<th data-n="1">Findings</th><th data-n="1">Timeline</th></tr></thead><tbody>
{% for row in vm_rows %}{% set vm = row.vm %}<tr class="s-{{ vm.status }}" data-ok="{{ '1' if vm.status == 'compliant' else '0' }}">
<td data-v="{{ row.rank }}">{{ vm.status | label }}</td>{% if combined %}<td>{{ vm.em_host }}</td>{% endif %}
<td>{% if vm.findings %}<a href="#vm-{{ row.index }}">{{ vm.name }}</a>{% else %}{{ vm.name }}{% endif %}</td>
<td>{{ vm | expected }}</td><td>{{ vm | waiver }}</td><td>{{ vm.policy or '-' }}</td>
<td>{{ vm.backup_server or '-' }}</td><td data-v="{{ -1 if vm.rpo_seconds is none else vm.rpo_seconds }}">{{ vm.rpo_seconds | duration }}</td>
<td>{{ vm.coverage_percent }}</td><td data-v="{{ vm.worst_gap_seconds or 0 }}">{{ vm.worst_gap_seconds | duration }}</td><td>{{ vm.sessions }}</td>
<td data-v="{{ row.active | length }}">{% if row.active %}{{ row.active | map(attribute='code') | unique | sort | join(', ') }}
{%- else %}<span class="ok" title="no findings">&#10003;</span>{% endif %}</td>
<td data-v="{{ vm.coverage_percent }}">{{ row.timeline }}</td></tr>
{% endfor %}</tbody></table>
<h2>Findings per VM</h2>
{% for row in vm_rows if row.vm.findings %}{% set vm = row.vm %}<details id="vm-{{ row.index }}"{{ ' open' if row.open else '' }}>
<summary class="sev-{{ row.severity }}">{{ vm.name }}{% if combined %} @ {{ vm.em_host }}{% endif %}: {{ vm.status | label }}</summary>
{{- findings_list(vm.findings) }}</details>
{% else %}<p class="muted">No findings.</p>
{% endfor %}
<script>{{ script }}</script></body></html>
"""


def _columns(rows):
    """The keys of a list of mappings, in first-seen order."""
    columns = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns


def _worst_breach(policy):
    worst = policy.get("worst_breach")
    if not worst:
        return "-"
    return "%s: %s (%sx, %s)" % (worst.get("vm"), seconds_text(worst.get("worst_gap_seconds")), worst.get("ratio"), worst.get("tier"))


def _escape(item):
    """Every {{ }} goes through here: None is an empty cell, text is escaped (quotes too, control characters made
    visible) unless already markup."""
    if isinstance(item, Markup):
        return item
    return Markup(html.escape(clean_text(item), quote=True))


def csp_source(text):
    """The CSP source that allows an inline element whose content is exactly ``text``."""
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(str(text).encode("utf-8")).digest()).decode("ascii")


# Nothing may load or connect; the one style element and the one script run because their hashes match.
CSP = Markup("default-src 'none'; style-src %s; script-src %s; img-src 'none'; base-uri 'none'; form-action 'none'" % (
    csp_source(_CSS), csp_source(_JS)))


def _environment():
    # autoescape stays on as the safety net; _escape (finalize) does the escaping, in the html module's spelling.
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, finalize=_escape)
    environment.filters.update(label=status_label, duration=seconds_text, worst_breach=_worst_breach, columns=_columns,
                               text=lambda item: "" if item is None else str(item), policy_split=policy_split,
                               expected=expected_text, waiver=waiver_text, folded=folded_text)
    return environment


_COMPILED = _environment().from_string(_TEMPLATE)


def _timeline_bars(vm, window_seconds):
    """(left %, width %) of each covered stretch, or None without a window to scale to."""
    if not window_seconds:
        return None
    bars = []
    for start, end in vm.get("timeline") or ():
        left = max(0.0, min(100.0, 100.0 * start / window_seconds))
        width = max(0.0, min(100.0 - left, 100.0 * (end - start) / window_seconds))
        bars.append(("%.2f" % left, "%.2f" % width))
    return bars


def _vm_rows(report):
    vms = sorted_vms(report)
    window_seconds = (report.get("window") or {}).get("seconds")
    rows = []
    for index, vm in enumerate(vms):
        status = vm.get("status")
        bars = _timeline_bars(vm, window_seconds)
        rows.append({
            "vm": vm, "index": index, "rank": STATUS_RANK.get(status, 3), "active": active_findings(vm),
            "timeline": "" if bars is None else Markup(timeline_svg(bars, vm.get("coverage_percent"))),
            "open": status == "non_compliant" and len(vms) <= 50,
            "severity": "violation" if status == "non_compliant" else "warning" if status == "warning" else "info",
        })
    return rows


def _cards(summary):
    findings = summary.get("findings") or {}
    return (("VMs", summary.get("vms")), ("compliant", summary.get("compliant")), ("warning", summary.get("warning")),
            ("non-compliant", summary.get("non_compliant")), ("RPO breached", summary.get("rpo_breached")),
            ("replication failed", summary.get("replication_failed")), ("violations", findings.get("violation")),
            ("warnings", findings.get("warning")), ("waived", summary.get("waived")), ("policies", summary.get("policies")))


def _charts(report):
    return [Markup(chart) for chart in (trend_chart(report), policy_chart(report), gap_chart(report)) if chart]


def render_html(report):
    """One self-contained HTML page (inline CSS, JS and SVG, no external assets)."""
    combined = is_combined(report)
    title = "CDP compliance: %s" % (report.get("em_host") or ("%d EM servers" % len(report.get("ems", ())) if combined else "EM"))
    meta = [(label, value) for label, value in evidence_meta(report) if label != "Policy data"]
    return _COMPILED.render(
        report=report, combined=combined, title=title, verdict=report.get("verdict", "incomplete"), window=window_text(report),
        data=report.get("data") or {}, meta=meta, cards=_cards(report.get("summary") or {}), audit_title=report_title(report),
        policy_problem=policy_data_problem(report), how_to_read=HOW_TO_READ, charts=_charts(report),
        has_trend=bool((report.get("trends") or {}).get("vms")), drift=drift_sections(report), policies=sorted_policies(report), vm_rows=_vm_rows(report),
        css=_CSS, script=_JS, csp=CSP)
