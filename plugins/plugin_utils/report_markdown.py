# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown report, for tickets and e-mail.

Rendered by a Jinja2 template whose ``finalize`` is ``escape_markdown``: every ``{{ }}`` is escaped (HTML and
Markdown syntax, line breaks folded, control characters made visible), so a VM name cannot break a table, inject
markup or drive a terminal, and no caller has an escape to forget. Only the template's own text is Markdown; a
value passes unescaped only when it is a ``Markdown`` instance, which nothing from a report is.
"""

from __future__ import annotations

import html
import re

from jinja2 import Environment

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
_EVIDENCE_LISTED = 5


class Markdown(str):
    """Text that is already Markdown (like markupsafe's Markup for HTML): the template writes it as it is.
    Concatenating or formatting it gives a plain str again, which is escaped."""

    __slots__ = ()


def escape_markdown(value):
    """``value`` as Markdown text that shows literally on one line; a ``Markdown`` value is returned as it is."""
    if isinstance(value, Markdown):
        return value
    text = " ".join(clean_text(value).split())
    return Markdown(_MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)))


# The table pipes, list dashes and bold markers are the template's text; every value goes through {{ }}, i.e. finalize.
# A tag that ends a line with "+%}" keeps that line's break (trim_blocks would remove it).
_TEMPLATE = """\
# CDP replication compliance: {{ verdict | label }}

{% if audit_title %}
**{{ audit_title }}**

{% endif %}
{% if policy_problem %}
**{{ policy_problem }}**

{% endif %}
- Audit window: {{ window }}
- Generated: {{ report.generated_at }}
{% for label, item in meta %}
- {{ label }}: {{ '-' if item is none else item }}
{% endfor %}
- Data complete: {% if data.get('complete', true) %}yes{% else %}**no** ({{ data.get('issues', ()) | join(', ') }}){% endif +%}

| VMs | compliant | warning | non-compliant | RPO breached | replication failed | violations | warnings | waived |
|---|---|---|---|---|---|---|---|---|
|{% for count in counts %} {{ count }} |{% endfor +%}

## How to read this report

{% for line in how_to_read %}
- {{ line }}
{% endfor %}

{% if report.findings %}
## Data and report findings
{% for finding in report.findings %}
- {{ finding.code }}: {{ finding.message }}
{% endfor %}

{% endif %}
{% if combined %}
## EM servers

| EM | status | verdict | VMs | error |
|---|---|---|---|---|
{% for em in report.get('ems', ()) %}
| {{ em.em_host }} | {{ em.status }} | {{ em.verdict }} | {{ (em.summary or {}).get('vms', '-') }} | {{ em.error or '' }} |
{% endfor %}

{% endif %}
{% if policies %}
## Policies

| status | policy | RPO | enabled | configuration | VMs' status | VMs | VMs compliant / warning / non-compliant | worst breach | findings |
|---|---|---|---|---|---|---|---|---|---|
{% for p in policies %}
{% set split = p | policy_split %}
{% set worst = p.worst_breach %}
| {{ p.status }} | {{ p.name }} | {{ p.get('rpo_seconds') | duration }} | {{ {true: 'yes', false: 'no'}.get(p.get('enabled'), 'unknown') }}
{{- '' }} | {{ split[0] }} | {{ split[1] }} | {{ p.get('vms', 0) }} | {{ split[2] }} | {% if worst -%}
{{ worst.vm }} {{ worst.get('worst_gap_seconds') | duration }} ({{ worst.ratio }}x){% else %}-{% endif %} | {{ p | policy_messages | blank_as('-') }} |
{% endfor %}

{% endif %}
{% for kind, entries, more in drift %}
{% if loop.first %}
## Changes since the previous audit

{% endif %}
**{{ kind }}**

{% for entry in entries %}
- {{ entry }}
{% endfor %}
{% if more > 0 %}
- and {{ more }} more (see the JSON report)
{% endif %}

{% endfor %}
{% if trends %}
## Not always compliant over the last {{ report.trends.days }} days

| VM | compliant % of audited time | audits | now | since |
|---|---|---|---|---|
{% for row in trends[:max_listed] %}
|{% for cell in row %} {{ cell }} |{% endfor +%}
{% endfor %}
{% if trends | length > max_listed %}

{{ trends | length - max_listed }} more VMs; see the JSON report.
{% endif %}

{% endif %}
{% if waived %}
## Waivers in effect ({{ waived | length }} VMs)

{% for vm in waived %}
- {{ vm.name }}{% if vm.em_host %} @ {{ vm.em_host }}{% endif %}: {{ vm | waiver }}
{% endfor %}

{% endif %}
## VMs needing attention ({{ problems | length }})

{% if not problems %}
None.

{% else %}
| status | VM | {% if combined %}EM | {% endif %}expected | waiver | policy | coverage | worst gap | findings |
|---|---|{% if combined %}---|{% endif %}---|---|---|---|---|---|
{% for vm in problems[:max_vms] %}
| {{ vm.status | label }} | {{ vm.name }} | {% if combined %}{{ vm.em_host }} | {% endif %}{{ vm | expected }} | {{ vm | waiver }}
{{- '' }} | {{ vm.policy or '-' }} | {{ vm.coverage_percent }}% | {{ vm.get('worst_gap_seconds') | duration }} | {{ vm | codes | blank_as('\u2713') }} |
{% endfor %}

### Findings

{% for vm in problems[:max_vms] %}
**{{ vm.name }}**{% if combined %} @ {{ vm.em_host }}{% endif %} ({{ vm.status | label }})

{% for f in vm.findings or () %}
{% set waiver, folded = f.waiver or {}, f | folded %}
{% set listed, more = f.evidence | evidence_list %}
- {{ f.severity }} {{ f.rule }}/{{ f.code }}: {{ f.message }}
{%- if f.waived %} (waived until {{ waiver.expires }}: {{ waiver.reason }}){% endif %}
{%- if folded %}; same cause, folded in: {{ folded }}{% endif %}
{%- for item in listed %}{% if loop.first %}; evidence: {% else %}; {% endif %}
{%- if 'from' in item %}gap {{ item['from'] }} to {{ item.to }}
{%- else %}{{ item.uid }} ({{ item.reason or item.failure_message or item.creation_time_utc }}){% endif %}{% endfor %}
{%- if more > 0 %} and {{ more }} more{% endif +%}
{% endfor %}

{% endfor %}
{% if problems | length > max_vms %}
{{ problems | length - max_vms }} more VMs need attention; see the JSON or HTML report.

{% endif %}
{% endif %}
"""


def _policy_messages(policy):
    return "; ".join(finding.get("message", "") for finding in policy.get("findings") or () if finding.get("severity") != "info")


def _codes(vm):
    return ", ".join(sorted({str(finding.get("code")) for finding in active_findings(vm)}))


def _blank_as(value, placeholder):
    """``placeholder`` where ``value`` would show as an empty cell."""
    return value if clean_text(value).split() else placeholder


def _evidence_list(evidence):
    """(the first sessions or gaps of a finding's evidence, how many more there are)."""
    evidence = evidence or {}
    items = evidence.get("sessions") or evidence.get("gaps") or []
    if not items:
        return [], 0
    return items[:_EVIDENCE_LISTED], len(items) - _EVIDENCE_LISTED + (evidence.get("more") or 0)


def _environment():
    # autoescape is for HTML; here finalize does the (Markdown) escaping of every {{ }}, constants included.
    environment = Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                              finalize=escape_markdown)
    environment.filters.update(label=status_label, duration=seconds_text, policy_split=policy_split, expected=expected_text,
                               waiver=waiver_text, folded=folded_text, policy_messages=_policy_messages, codes=_codes,
                               blank_as=_blank_as, evidence_list=_evidence_list)
    return environment


ENVIRONMENT = _environment()
_COMPILED = ENVIRONMENT.from_string(_TEMPLATE)


def render_markdown(report, max_vms=200):
    """Markdown for tickets and e-mail. At most ``max_vms`` VMs needing attention are detailed; the rest are counted."""
    summary = report.get("summary") or {}
    findings = summary.get("findings") or {}
    counts = [summary.get(key, 0) for key in ("vms", "compliant", "warning", "non_compliant", "rpo_breached", "replication_failed")]
    counts += [findings.get("violation", 0), findings.get("warning", 0), summary.get("waived", 0)]
    return _COMPILED.render(
        report=report, verdict=report.get("verdict", "incomplete"), audit_title=report_title(report), policy_problem=policy_data_problem(report),
        window=window_text(report), meta=[(label, value) for label, value in evidence_meta(report) if label != "Policy data"],
        data=report.get("data") or {}, counts=counts, how_to_read=HOW_TO_READ, combined=is_combined(report), policies=sorted_policies(report),
        drift=drift_sections(report), trends=trend_rows(report), max_listed=MAX_LISTED,
        waived=[vm for vm in report.get("vms") or () if vm.get("waiver")], problems=problem_vms(report), max_vms=max_vms,
    ).removesuffix("\n")  # the last section's closing blank line needs no line break of its own
