# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report's inline SVG charts: accessible, self-contained, escaped, and drawn from the report's numbers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils import report_charts as charts
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_html import render_html
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import NASTY, contract_report, sample_report

SVG = "{http://www.w3.org/2000/svg}"


def _figure(markup):
    return ET.fromstring(markup)  # well-formed XML, so a browser's SVG parser reads it the same way


def _accessible(figure, chart_id):
    svg = figure.find("%ssvg" % SVG) if figure.find("%ssvg" % SVG) is not None else figure.find("svg")
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "%s-t %s-d" % (chart_id, chart_id)
    title = next(child for child in svg if child.tag.endswith("title"))
    desc = next(child for child in svg if child.tag.endswith("desc"))
    assert title.get("id") == chart_id + "-t" and desc.get("id") == chart_id + "-d" and title.text and desc.text
    assert figure.find("figcaption").text == desc.text  # the same text alternative, visible and printed
    return svg, desc.text


def test_policy_chart_counts_vms_by_status_and_names_the_worst_breach():
    report = contract_report()
    report["policies"][0]["worst_breach"] = {"vm": "warn", "worst_gap_seconds": 7200, "ratio": 8.0, "tier": "critical"}
    svg, desc = _accessible(_figure(charts.policy_chart(report)), "chart-policies")
    assert "2 compliant, 1 warning, 0 non compliant" in desc and "worst breach 2h (8.0x)" in desc
    fills = [rect.get("fill") for rect in svg.iter() if rect.tag.endswith("rect")]
    assert fills.count(charts.COLOURS["compliant"]) == 1 and fills.count(charts.COLOURS["warning"]) == 1
    assert charts.policy_chart({"policies": []}) is None


def test_gap_chart_buckets_worst_gap_against_rpo():
    vms = [{"rpo_ratio": value} for value in (0.1, 0.5, 0.9, 1.5, 3.0, 6.0, 60.0, None)]
    assert charts.gap_buckets(vms) == [("up to 0.5x RPO", 2), ("0.5x-1x RPO", 1), ("1x-2x RPO", 1), ("2x-5x RPO", 1),
                                       ("over 5x RPO", 2), ("no RPO known", 1)]
    _svg, desc = _accessible(_figure(charts.gap_chart({"vms": vms})), "chart-gaps")
    assert desc.startswith("up to 0.5x RPO: 2 VMs;")
    assert charts.gap_chart({"vms": []}) is None


def test_trend_chart_only_with_trends_lowest_first():
    report = contract_report()
    _svg, desc = _accessible(_figure(charts.trend_chart(report)), "chart-trend")
    assert desc.index("warn 75.5%") < desc.index("good 100.0%") and "90 audits" in desc
    assert charts.trend_chart(sample_report()) is None
    assert "Compliance over time: not recorded" in render_html(sample_report())
    assert "Compliance over time: not recorded" not in render_html(report)


def test_charts_escape_hostile_names_and_load_nothing():
    report = sample_report(hostile=NASTY)
    text = render_html(report)
    for chart_id in ("chart-policies", "chart-gaps"):
        assert 'id="%s"' % chart_id in text
    for markup in (charts.policy_chart(report), charts.gap_chart(report)):
        assert "<script" not in markup and "alert(\"x\")" not in markup
        _figure(markup)  # still well-formed with the hostile policy name
    assert not re.search(r"(href|src)=", text.split("<h2>Charts</h2>", 1)[1].split("<h2>", 1)[0])


def test_long_lists_are_capped_and_say_so():
    report = {"policies": [{"name": "p%02d" % index, "compliant": 1, "warning": 0, "non_compliant": 0, "status": "compliant"}
                           for index in range(charts.MAX_BARS + 5)]}
    _svg, desc = _accessible(_figure(charts.policy_chart(report)), "chart-policies")
    assert desc.endswith("; 5 more policies not drawn")
