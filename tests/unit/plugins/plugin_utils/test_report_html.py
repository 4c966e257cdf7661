# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report: self-contained, and every value from EM escaped."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_html import render_html
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import NASTY, NOW, sample_report, session


class _Elements(HTMLParser):
    """Counts start tags and collects the page's text and attribute values as a browser decodes them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = {}
        self.text = []
        self.attributes = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attributes.extend(value for _name, value in attrs if value)

    def handle_data(self, data):
        self.text.append(data)


def _parse(text):
    parser = _Elements()
    parser.feed(text)
    parser.close()
    return parser


def test_html_is_self_contained_and_escaped():
    text = render_html(sample_report())
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text)
    assert "<link" not in text and "@import" not in text
    assert "Content-Security-Policy" in text
    assert text.count("<script>") == 1  # only the inline sorter
    assert "NON COMPLIANT" in text and "Policies" in text and 'class="tl"' in text
    assert "em1.example" in text
    assert "waived until 2099-01-01: tuning &lt;b&gt;" in text


def _sha256_source(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def test_html_keeps_the_csp_and_the_inline_script():
    text = render_html(sample_report())
    script = text.split("<script>", 1)[1].split("</script>", 1)[0]
    style = text.split("<style>", 1)[1].split("</style>", 1)[0]
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', text).group(1)
    # The one script and the one style element run because their hashes are allowed; nothing else may.
    assert csp == ("default-src 'none'; style-src %s; script-src %s; img-src 'none'; base-uri 'none'; form-action 'none'"
                   % (_sha256_source(style), _sha256_source(script)))
    assert "unsafe-inline" not in text and " style=" not in text
    assert "getElementById('vms')" in script and "addEventListener('input',filt)" in script
    assert 'th:after{content:" \\2195"' in text  # the CSS is written as is, not escaped


def test_hostile_values_stay_text_everywhere():
    report = sample_report(em_host=NASTY, hostile=NASTY)
    combined = combine_reports([report, {"em_host": NASTY, "status": "unreachable", "error": NASTY}])
    for page in (report, combined):
        text = render_html(page)
        parsed = _parse(text)
        assert parsed.tags.get("script") == 1 and "<script>alert" not in text
        assert "]]>" not in text and "]]&gt;" in text
        assert "alert(\"x\")" not in text  # no quote survives to end an attribute
        decoded = "".join(parsed.text)
        assert "<script>alert(\"x\")</script>'\"]]>&amp;" in decoded  # shown to the reader exactly as EM sent it


def test_values_inside_attributes_cannot_end_them():
    report = sample_report()
    breakout = '"><script>alert(1)</script><b class="'
    report["vms"][0]["status"] = breakout
    report["vms"][0]["coverage_percent"] = breakout
    report["vms"][0]["findings"] = [{"rule": "rpo", "code": "c", "severity": breakout, "message": "m", "evidence": {}, "waived": False}]
    text = render_html(report)
    parsed = _parse(text)
    assert parsed.tags.get("script") == 1 and parsed.tags.get("b", 0) == text.count("<b>") + text.count("<b class=\"sev-violation\">")
    assert breakout in parsed.attributes or any(breakout in value for value in parsed.attributes)


def test_none_values_are_empty_cells_not_the_word_none():
    text = render_html(evaluate([session("vm1", "2025-06-14T02:00:00Z", "2025-06-14T03:00:00Z")], now=NOW))
    assert ">None<" not in text
    assert "<tr><th>EM host</th><td>-</td></tr>" in text


def test_evidence_tables_render_nested_values():
    text = render_html(sample_report())
    assert "<details><summary>evidence</summary><table class=\"kv\">" in text
    assert "<th>sessions</th>" in text or "<th>gaps</th>" in text


def test_combined_html_lists_every_em():
    combined = combine_reports([sample_report("em1"), {"em_host": "em3", "status": "unreachable", "error": "connection refused"}])
    text = render_html(combined)
    assert "<title>CDP compliance: 2 EM servers</title>" in text
    assert '<tr class="s-unreachable"><td>unreachable</td><td>em3</td>' in text
    assert "connection refused" in text and "<th>EM</th>" in text


def test_html_scales_to_ten_thousand_vms():
    records = []
    for index in range(10000):
        vm = "vm%05d" % index
        records.append(session(vm, "2025-06-13T23:00:00Z", "2025-06-14T%02d:00:00Z" % (index % 20 + 1)))
        records.append(session(vm, "2025-06-14T%02d:30:00Z" % (index % 20 + 1), "2025-06-14T22:00:00Z"))
        records.append(session(vm, "2025-06-14T22:00:00Z"))
    report = evaluate(records, now=NOW)
    text = render_html(report)
    assert text.count("<tr class=\"s-") >= 10000
    assert len(text) < 60 * 1024 * 1024


def test_compliant_vms_show_a_tick_not_zero_findings():
    text = render_html(sample_report())
    row = next(line for line in text.split("<tr class=\"s-compliant\"")[1:] if ">good<" in line)
    assert '<td data-v="0"><span class="ok" title="no findings">&#10003;</span></td>' in row
    assert '<td data-v="0">0</td>' not in text
