# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inline SVG charts for the HTML report, drawn on the controller: no script, font or request of their own.

Built as ElementTree elements and written by ``serialise``, which escapes every text and attribute (quotes too). Colours are presentation attributes, not style
attributes, so the page's Content-Security-Policy needs no 'unsafe-inline' for them. Each chart has a <title>
and a <desc> (read by screen readers) and a caption with the same text under it, so the numbers are there as text.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

from .report_common import clean_text, seconds_text, sorted_policies

COLOURS = {"compliant": "#2e7d32", "warning": "#b26a00", "non_compliant": "#c62828", "none": "#90a4ae", "grid": "#ccd3dd"}
MAX_BARS = 25
_WIDTH, _LABEL, _BAR = 640, 210, 16
# (upper bound of worst gap / RPO, label); the last bucket is open.
GAP_BUCKETS = ((0.5, "up to 0.5x RPO"), (1.0, "0.5x-1x RPO"), (2.0, "1x-2x RPO"), (5.0, "2x-5x RPO"), (None, "over 5x RPO"))


def serialise(element):
    """``element`` as HTML-embeddable markup; every text and attribute value escaped, quotes included."""
    attributes = "".join(' %s="%s"' % (name, html.escape(value, quote=True)) for name, value in element.attrib.items())
    inner = html.escape(element.text or "", quote=True) + "".join(serialise(child) for child in element)
    return "<%s%s>%s</%s>%s" % (element.tag, attributes, inner, element.tag, html.escape(element.tail or "", quote=True))


def _svg(chart_id, title, desc, height):
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "role": "img", "class": "chart", "id": chart_id,
                             "viewBox": "0 0 %d %d" % (_WIDTH, height), "width": str(_WIDTH), "height": str(height),
                             "aria-labelledby": "%s-t %s-d" % (chart_id, chart_id)})
    ET.SubElement(svg, "title", id="%s-t" % chart_id).text = clean_text(title)
    ET.SubElement(svg, "desc", id="%s-d" % chart_id).text = clean_text(desc)
    return svg


def _text(parent, x, y, text, anchor="start", size=11):
    ET.SubElement(parent, "text", {"x": "%g" % x, "y": "%g" % y, "font-size": str(size), "text-anchor": anchor,
                                   "fill": "#1d2430"}).text = clean_text(text)


def _rect(parent, x, y, width, height, colour, label=None):
    rect = ET.SubElement(parent, "rect", {"x": "%.1f" % x, "y": "%.1f" % y, "width": "%.1f" % max(width, 0.0),
                                          "height": "%.1f" % height, "fill": colour})
    if label:
        ET.SubElement(rect, "title").text = clean_text(label)


def _short(name, limit=32):
    text = clean_text(name)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _figure(svg, caption):
    figure = ET.Element("figure")
    figure.append(svg)
    ET.SubElement(figure, "figcaption").text = clean_text(caption)
    return serialise(figure)


def _stacked_rows(svg, rows, scale_width):
    """rows: (label, [(value, colour, tooltip)], right-hand text); bars scaled so the largest total fills the width."""
    largest = max([sum(value for value, _colour, _tip in parts) for _label, parts, _right in rows] + [1])
    for index, (label, parts, right) in enumerate(rows):
        y = 30 + index * (_BAR + 6)
        _text(svg, _LABEL - 6, y + 12, _short(label), anchor="end")
        x = float(_LABEL)
        for value, colour, tip in parts:
            width = scale_width * value / largest
            _rect(svg, x, y, width, _BAR, colour, tip)
            x += width
        if right:
            _text(svg, x + 4, y + 12, right)


def trend_chart(report):
    """Share of audited time each VM was compliant over the history's period (lowest first), or None without trends."""
    trends = report.get("trends")
    if not trends or not trends.get("vms"):
        return None
    entries = sorted(trends["vms"], key=lambda item: (_percent(item), str(item.get("vm")).casefold()))
    shown = entries[:MAX_BARS]
    rows = []
    for entry in shown:
        percent = _percent(entry)
        streak = entry.get("longest_non_compliant_streak") or {}
        right = "%s%%%s" % (percent, ", longest non-compliant run %s" % seconds_text(streak.get("seconds")) if streak else "")
        rows.append((entry.get("vm"), [(percent, COLOURS["compliant"], "%s%% compliant" % percent),
                                       (100.0 - percent, COLOURS["non_compliant"], "%.2f%% not compliant" % (100.0 - percent))], right))
    title = "Compliance over time: share of the last %s days each VM was compliant" % trends.get("days", "?")
    desc = "%d audits from %s to %s. %s%s" % (
        trends.get("audits") or 0, trends.get("since"), trends.get("until"),
        "; ".join("%s %s%%" % (entry.get("vm"), _percent(entry)) for entry in shown),
        "; %d more VMs not drawn" % (len(entries) - len(shown)) if len(entries) > len(shown) else "")
    svg = _svg("chart-trend", title, desc, 40 + len(rows) * (_BAR + 6))
    _text(svg, 0, 14, title, size=12)
    _stacked_rows(svg, rows, _WIDTH - _LABEL - 230)
    return _figure(svg, desc)


def _percent(entry):
    value = entry.get("compliant_time_percent")
    if value is None:
        value = entry.get("compliant_percent")
    return round(float(value or 0.0), 2)


def policy_chart(report):
    """Per policy: its VMs by status (stacked bar) and its worst RPO breach; None without policies."""
    policies = sorted_policies(report)
    if not policies:
        return None
    shown = policies[:MAX_BARS]
    rows, parts_text = [], []
    for policy in shown:
        counts = policy.get("vm_counts") or policy
        numbers = [int(counts.get(key) or 0) for key in ("compliant", "warning", "non_compliant")]
        worst = policy.get("worst_breach")
        right = "worst breach %s (%sx)" % (seconds_text(worst.get("worst_gap_seconds")), worst.get("ratio")) if worst else ""
        rows.append((policy.get("name"), [(value, COLOURS[key], "%d %s" % (value, key.replace("_", " ")))
                                          for value, key in zip(numbers, ("compliant", "warning", "non_compliant"))], right))
        parts_text.append("%s: %d compliant, %d warning, %d non compliant%s" % (
            policy.get("name"), numbers[0], numbers[1], numbers[2], "; " + right if right else ""))
    title = "VMs per policy by status, and each policy's worst RPO breach"
    desc = "; ".join(parts_text) + ("; %d more policies not drawn" % (len(policies) - len(shown)) if len(policies) > len(shown) else "")
    svg = _svg("chart-policies", title, desc, 40 + len(rows) * (_BAR + 6))
    _text(svg, 0, 14, title, size=12)
    _stacked_rows(svg, rows, _WIDTH - _LABEL - 190)
    return _figure(svg, desc)


def gap_buckets(vms):
    """[(label, VM count)]: VMs by their worst gap as a multiple of their RPO, then VMs without an RPO ratio."""
    counts = [0] * (len(GAP_BUCKETS) + 1)
    for vm in vms:
        ratio = vm.get("rpo_ratio")
        if ratio is None:
            counts[-1] += 1
            continue
        counts[next(index for index, (bound, _label) in enumerate(GAP_BUCKETS) if bound is None or ratio <= bound)] += 1
    return list(zip([label for _bound, label in GAP_BUCKETS] + ["no RPO known"], counts))


def gap_chart(report):
    """Histogram of the VMs' worst gaps against their RPO; None without VMs."""
    vms = report.get("vms") or ()
    if not vms:
        return None
    buckets = gap_buckets(vms)
    colours = [COLOURS["compliant"], COLOURS["compliant"], COLOURS["warning"], COLOURS["non_compliant"], COLOURS["non_compliant"],
               COLOURS["none"]]
    title = "Worst replication gap of each VM against its RPO"
    desc = "; ".join("%s: %d VMs" % bucket for bucket in buckets)
    height, top, bottom = 220, 30, 180
    svg = _svg("chart-gaps", title, desc, height)
    _text(svg, 0, 14, title, size=12)
    largest = max(count for _label, count in buckets) or 1
    slot = (_WIDTH - 20) / len(buckets)
    ET.SubElement(svg, "line", {"x1": "10", "x2": str(_WIDTH - 10), "y1": str(bottom), "y2": str(bottom), "stroke": COLOURS["grid"]})
    for index, ((label, count), colour) in enumerate(zip(buckets, colours)):
        bar_height = (bottom - top - 14) * count / largest
        x = 10 + index * slot + slot * 0.15
        _rect(svg, x, bottom - bar_height, slot * 0.7, bar_height, colour, "%s: %d VMs" % (label, count))
        _text(svg, x + slot * 0.35, bottom - bar_height - 3, str(count), anchor="middle")
        _text(svg, x + slot * 0.35, bottom + 16, label, anchor="middle", size=10)
    return _figure(svg, desc)


def timeline_svg(bars, coverage_percent):
    """The VM row's coverage timeline: green stretches on red, from (left %, width %) pairs."""
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "class": "tl", "viewBox": "0 0 100 10", "preserveAspectRatio": "none",
                             "width": "160", "height": "12", "role": "img"})
    ET.SubElement(svg, "title").text = "%s%% covered" % clean_text(coverage_percent)
    ET.SubElement(svg, "rect", {"x": "0", "y": "0", "width": "100", "height": "10", "fill": "#f3c1c1"})
    for left, width in bars:
        ET.SubElement(svg, "rect", {"x": left, "y": "0", "width": width, "height": "10", "fill": "#43a047"})
    return serialise(svg)
