# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the two-EM run: usage check_two_ems.py PLAYBOOK_LOG REPORT_DIR.

The per-EM and combined reports exist and parse, the unreachable EM is shown as such with its
error, and the set_stats summary (the RUN line of the custom stats) says the same.
"""

from __future__ import annotations

import json
import os
import sys

import check_reports


def run_stats(log_path):
    with open(log_path, encoding="utf-8") as stream:
        for line in stream:
            if line.strip().startswith("RUN:"):
                return json.loads(line.split("RUN:", 1)[1])
    raise AssertionError("no RUN custom stats in %s" % log_path)


def main():
    log_path, report_dir = sys.argv[1:3]
    up = check_reports.check(os.path.join(report_dir, "two-ems-em_up"))
    down = check_reports.check(os.path.join(report_dir, "two-ems-em_down"))
    combined = check_reports.check(os.path.join(report_dir, "two-ems-combined"))

    assert up["kind"] == "cdp_compliance_report" and up["verdict"] == "non_compliant", up["verdict"]
    assert down["kind"] == "cdp_compliance_combined_report" and down["verdict"] == "incomplete", down["verdict"]
    assert [em["status"] for em in down["ems"]] == ["unreachable"], down["ems"]
    assert "127.0.0.1" in down["ems"][0]["error"], down["ems"][0]["error"]

    assert combined["verdict"] == "incomplete", combined["verdict"]
    statuses = {em["em_host"]: em["status"] for em in combined["ems"]}
    assert sorted(statuses.values()) == ["ok", "unreachable"], statuses
    assert statuses[up["em_host"]] == "ok", statuses
    assert len(combined["vms"]) == len(up["vms"]) and combined["summary"]["ems_unreachable"] == 1, combined["summary"]
    with open(os.path.join(report_dir, "two-ems-combined.html"), encoding="utf-8") as stream:
        assert "unreachable" in stream.read()
    with open(os.path.join(report_dir, "two-ems-combined.junit.xml"), encoding="utf-8") as stream:
        assert 'type="unreachable"' in stream.read()

    stats = run_stats(log_path)["cdp_compliance"]
    assert stats["verdict"] == "incomplete", stats["verdict"]
    assert stats["files"]["json"] == os.path.join(report_dir, "two-ems-combined.json"), stats["files"]
    assert stats["summary"]["ems"] == 2 and stats["summary"]["ems_unreachable"] == 1, stats["summary"]
    assert len(stats["em_hosts"]) == 2, stats["em_hosts"]
    assert stats["ems"]["em_up"]["status"] == "ok" and stats["ems"]["em_up"]["verdict"] == "non_compliant", stats["ems"]["em_up"]
    assert stats["ems"]["em_up"]["summary"]["vms"] == len(up["vms"]), stats["ems"]["em_up"]
    assert stats["ems"]["em_down"]["status"] == "unreachable" and stats["ems"]["em_down"]["verdict"] == "incomplete", stats["ems"]["em_down"]
    assert stats["ems"]["em_down"]["error"], stats["ems"]["em_down"]
    assert stats["ems"]["em_down"]["files"]["html"] == os.path.join(report_dir, "two-ems-em_down.html"), stats["ems"]["em_down"]
    print("two EMs: per-EM and combined reports and set_stats OK")


if __name__ == "__main__":
    main()
