# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the report files written for one basename: usage check_reports.py DIR/BASENAME.

JSON loads; JUnit XML parses with one test case per VM and rule (a failure exactly where the
rule has an unwaived violation); the HTML has the VM table with every VM; Markdown has its title;
the CSV has one row per VM; the SHA-256 manifest lists every file with its right digest.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import sys
from xml.etree import ElementTree

VM_RULE_CASES = ("scope", "coverage", "rpo", "failures", "stuck", "freshness")


def check(base):
    with open(base + ".json", encoding="utf-8") as stream:
        report = json.load(stream)
    assert report["kind"] in ("cdp_compliance_report", "cdp_compliance_combined_report"), report["kind"]
    assert report["verdict"] in ("compliant", "warning", "non_compliant", "incomplete"), report["verdict"]

    cases = {}
    root = ElementTree.parse(base + ".junit.xml").getroot()
    assert root.tag == "testsuites", root.tag
    for suite in root.iter("testsuite"):
        if not suite.get("name").endswith(".vms"):
            continue
        for case in suite.iter("testcase"):
            key = (case.get("classname"), case.get("name"))
            assert key not in cases, "duplicate test case %r" % (key,)
            cases[key] = case
    expected = set()
    for vm in report["vms"]:
        host = vm.get("em_host") if report["kind"] == "cdp_compliance_combined_report" else report.get("em_host")
        classname = "cdp_compliance.%s.%s" % (host or "em", vm["name"])
        rules = set(VM_RULE_CASES) | {finding["rule"] for finding in vm["findings"]}
        for rule in rules:
            case = cases.get((classname, rule))
            assert case is not None, "no test case for VM %r rule %r" % (vm["name"], rule)
            violated = any(f["rule"] == rule and f["severity"] == "violation" and not f.get("waived") for f in vm["findings"])
            assert (case.find("failure") is not None) == violated, "VM %r rule %r: failure element does not match" % (vm["name"], rule)
            expected.add((classname, rule))
    assert set(cases) == expected, "unexpected VM test cases: %r" % sorted(set(cases) - expected)[:5]

    with open(base + ".html", encoding="utf-8") as stream:
        page = stream.read()
    assert page.startswith("<!DOCTYPE html>"), page[:40]
    assert '<table id="vms">' in page
    for vm in report["vms"]:
        assert html.escape(vm["name"], quote=True) in page, "VM %r missing from the HTML" % vm["name"]

    with open(base + ".md", encoding="utf-8") as stream:
        assert stream.read().startswith("# CDP replication compliance")

    with open(base + ".csv", encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(report["vms"]), "CSV has %d rows for %d VMs" % (len(rows), len(report["vms"]))

    with open(base + ".sha256", encoding="utf-8") as stream:
        sums = dict(reversed(line.rstrip("\n").split("  ", 1)) for line in stream)
    suffixes = (".json", ".html", ".junit.xml", ".md", ".csv")
    assert sorted(sums) == sorted(os.path.basename(base) + suffix for suffix in suffixes), sorted(sums)
    for name, digest in sums.items():
        with open(os.path.join(os.path.dirname(base), name), "rb") as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == digest, "%s does not match its SHA-256 in the manifest" % name
    return report


def main():
    for base in sys.argv[1:]:
        report = check(base)
        print("%s: %s, %d VMs, six files OK" % (base, report["verdict"], len(report["vms"])))


if __name__ == "__main__":
    main()
