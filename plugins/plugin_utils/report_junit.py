# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JUnit XML report: one test case per VM and rule, built with ElementTree, which escapes every value.

XML 1.0 cannot carry some characters at all (most control characters, lone surrogates), escaped or not, and a
CI log viewer would act on DEL and C1 controls: ``clean_text`` makes them all visible before they reach the tree.
Suite properties carry the provenance and expected scope; each VM's test cases say whether it was expected and
whether a waiver covered it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import VM_RULES

from .report_common import clean_text, evidence_meta, expected_text, folded_text, is_combined, sorted_vms, waiver_text, window_text

_OUTCOMES = ("failure", "error", "skipped")


def _xml(value):
    return clean_text(value)


def _element(tag, text=None, **attributes):
    element = ET.Element(tag, {key: _xml(value) for key, value in attributes.items()})
    if text is not None:
        element.text = _xml(text)
    return element


def _testcase(classname, name, child=None):
    case = _element("testcase", classname=classname, name=name, time="0")
    if child is not None:
        case.append(child)
    return case


def _properties(pairs):
    props = ET.Element("properties")
    for key, value in pairs:
        props.append(_element("property", name=key, value=value))
    return props


def _folded(finding):
    text = folded_text(finding)
    return "\nsame cause, folded in: %s" % text if text else ""


def _finding_lines(findings, detailed):
    if detailed:
        return "\n".join("[%s] %s: %s%s\n%s" % (f.get("severity"), f.get("code"), f.get("message"), _folded(f),
                                                json.dumps(f.get("evidence"), indent=1)) for f in findings)
    return "\n".join("[%s%s] %s: %s" % (f.get("severity"), ", waived" if f.get("waived") else "", f.get("code"), f.get("message"))
                     for f in findings)


def _junit_case(classname, name, findings, disabled=False, warnings_as_failures=False):
    """(outcome, <testcase>): failure = an unwaived violation, skipped = rule disabled or everything waived."""
    active = [finding for finding in findings if not finding.get("waived")]
    failures = [finding for finding in active if finding.get("severity") == "violation" or
                (warnings_as_failures and finding.get("severity") == "warning")]
    waived = [finding for finding in findings if finding.get("waived")]
    case = _testcase(classname, name)
    kind = "pass"
    if failures:
        kind = "failure"
        case.append(_element("failure", _finding_lines(failures, True), message=failures[0].get("message"), type=failures[0].get("code")))
    elif disabled:
        kind = "skipped"
        case.append(_element("skipped", message="rule disabled"))
    elif waived and not [finding for finding in active if finding.get("severity") != "info"]:
        kind = "skipped"
        waiver = waived[0].get("waiver") or {}
        case.append(_element("skipped", message="waived until %s: %s" % (waiver.get("expires"), waiver.get("reason"))))
    other = [finding for finding in findings if finding not in failures]
    if other:
        case.append(_element("system-out", _finding_lines(other, False)))
    return kind, case


def _junit_suite(name, cases, timestamp, properties=()):
    """A <testsuite> of (outcome, <testcase>) pairs, with its counts."""
    counts = {outcome: sum(1 for kind, _case in cases if kind == outcome) for outcome in _OUTCOMES}
    suite = _element("testsuite", name=name, tests=len(cases), failures=counts["failure"], errors=counts["error"],
                     skipped=counts["skipped"], time="0", timestamp=(timestamp or "").rstrip("Z"))
    if properties:
        suite.append(_properties(properties))
    suite.extend(case for _kind, case in cases)
    return counts, len(cases), suite


def _data_case(report, prefix, host_filter):
    data = report.get("data") or {}
    if data.get("complete", True):
        return "pass", _testcase(prefix, "data_sufficiency")
    data_findings = [f for f in report.get("findings") or () if host_filter is None or f.get("em_host") == host_filter]
    error = _element("error", "\n".join(f.get("message", "") for f in data_findings),
                     message="data insufficient: %s" % ", ".join(data.get("issues", ())), type="incomplete")
    return "error", _testcase(prefix, "data_sufficiency", error)


def _vm_cases(report, prefix, rules, warnings_as_failures, host_filter):
    cases = []
    for vm in sorted_vms(report):
        if host_filter is not None and vm.get("em_host") != host_filter:
            continue
        by_rule = {}
        for finding in vm.get("findings") or ():
            by_rule.setdefault(finding.get("rule"), []).append(finding)
        names = list(VM_RULES) + sorted(rule for rule in by_rule if rule not in VM_RULES)
        scope = (("expected", expected_text(vm)), ("waiver", waiver_text(vm)))
        for rule in names:
            disabled = (rules.get(rule) or {}).get("enabled") is False
            kind, case = _junit_case("%s.%s" % (prefix, vm.get("name")), rule, by_rule.get(rule, []), disabled, warnings_as_failures)
            case.insert(0, _properties(scope))
            cases.append((kind, case))
    return cases


def _junit_report_suites(report, prefix, warnings_as_failures, host_filter=None):
    rules = (report.get("evidence") or {}).get("rules") or {}
    timestamp = report.get("generated_at")
    suites = [_junit_suite("%s.data" % prefix, [_data_case(report, prefix, host_filter)], timestamp,
                           [("verdict", report.get("verdict")), ("window", window_text(report))] + _meta_properties(report))]
    suites.append(_junit_suite("%s.vms" % prefix, _vm_cases(report, prefix, rules, warnings_as_failures, host_filter), timestamp))
    cases = []
    for policy in report.get("policies") or ():
        if host_filter is not None and policy.get("em_host") != host_filter:
            continue
        cases.append(_junit_case("%s.policy.%s" % (prefix, policy.get("name") or policy.get("uid")), "policy_config",
                                 policy.get("findings") or [], (rules.get("policy_config") or {}).get("enabled") is False, warnings_as_failures))
    if cases:
        suites.append(_junit_suite("%s.policies" % prefix, cases, timestamp))
    return suites


def _meta_properties(report):
    """Provenance and expected scope as (name, value): "EM version" -> em_version."""
    return [(label.lower().replace(" ", "_"), "-" if value is None else value) for label, value in evidence_meta(report)]


def _combined_suites(report, warnings_as_failures):
    suites = []
    for em in report.get("ems", ()):
        host = em.get("em_host")
        prefix = "cdp_compliance.%s" % host
        if em.get("status") == "unreachable":
            error = _element("error", message="EM unreachable: %s" % em.get("error"), type="unreachable")
            suites.append(_junit_suite("%s.data" % prefix, [("error", _testcase(prefix, "reachable", error))], report.get("generated_at")))
            continue
        sub = dict(report, data=em.get("data") or {}, verdict=em.get("verdict"), window=em.get("window"))
        suites.extend(_junit_report_suites(sub, prefix, warnings_as_failures, host_filter=host))
    return suites


def render_junit(report, warnings_as_failures=False):
    """JUnit XML: one test case per VM and rule (failure = unwaived violation, skipped = waived or disabled)."""
    if is_combined(report):
        suites = _combined_suites(report, warnings_as_failures)
    else:
        suites = _junit_report_suites(report, "cdp_compliance.%s" % (report.get("em_host") or "em"), warnings_as_failures)
    totals = {outcome: sum(counts[outcome] for counts, _tests, _suite in suites) for outcome in _OUTCOMES}
    root = _element("testsuites", name="CDP replication compliance", tests=sum(tests for _counts, tests, _suite in suites),
                    failures=totals["failure"], errors=totals["error"], skipped=totals["skipped"], time="0")
    root.extend(suite for _counts, _tests, suite in suites)
    ET.indent(root, space="")
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n%s\n" % ET.tostring(root, encoding="unicode")
