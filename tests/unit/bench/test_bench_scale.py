# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench_scale.py: the inventory of many EMs and the checks of a run's reports, on fake inputs."""

from __future__ import annotations

import json

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

import bench_scale

URLS = ("https://127.0.0.1:40001", "https://127.0.0.1:40002", "https://127.0.0.1:40003")


def test_inventory_is_read_by_ansible_as_the_cdp_audit_playbook_expects(tmp_path):
    path = tmp_path / "inventory.json"
    ems = {"em-101": (URLS[1], "/ca/101.pem"), "em-100": (URLS[0], "/ca/100.pem")}
    path.write_text(json.dumps(bench_scale.build_inventory(ems, "/venv/bin/python")), encoding="utf-8")
    inventory = InventoryManager(loader=DataLoader(), sources=[str(path)])
    assert sorted(host.name for host in inventory.groups["veeam_em_servers"].get_hosts()) == ["em-100", "em-101"]
    em = inventory.get_host("em-101")
    variables = dict(inventory.groups["veeam_em_servers"].get_vars(), **em.vars)
    assert variables["veeam_em_host"] == URLS[1] and variables["veeam_em_ca_path"] == "/ca/101.pem"
    assert variables["veeam_em_username"] == bench_scale.bl.USERNAME
    assert inventory.get_host("localhost").vars["ansible_connection"] == "local"


def em_report(url, verdict, sessions):
    return {"kind": "cdp_compliance_report", "em_host": url, "verdict": verdict, "evidence": {"records_read": {"task_sessions": sessions}}}


def combined_report(verdict, ems):
    return {"kind": "cdp_compliance_combined_report", "verdict": verdict,
            "ems": [{"em_host": url, "status": "ok", "verdict": em_verdict} for url, em_verdict in ems]}


def write(directory, documents):
    for number, document in enumerate(documents):
        (directory / ("report-%d.json" % number)).write_text(json.dumps(document), encoding="utf-8")
    (directory / "report-0.html").write_text("<html></html>", encoding="utf-8")
    (directory / "manifest.json").write_text(json.dumps(["not a report"]), encoding="utf-8")


EXPECTED = {URLS[0]: 9749, URLS[1]: 9750}
GOOD = [em_report(URLS[0] + "/", "compliant", 9749), em_report(URLS[1], "non_compliant", 9750),
        combined_report("non_compliant", [(URLS[0], "compliant"), (URLS[1], "non_compliant")])]


def check(tmp_path, documents, expected=None):
    write(tmp_path, documents)
    return bench_scale.check_reports(*bench_scale.read_reports(str(tmp_path)), expected or EXPECTED)


def test_a_right_run_passes(tmp_path):
    assert check(tmp_path, GOOD) == ({URLS[0]: "compliant", URLS[1]: "non_compliant"}, "non_compliant")


def test_a_single_em_needs_no_combined_report(tmp_path):
    assert check(tmp_path, GOOD[:1], {URLS[0]: 9749}) == ({URLS[0]: "compliant"}, "compliant")


@pytest.mark.parametrize("documents, problem", [
    (GOOD[:1] + GOOD[2:], "reports for"),
    ([em_report(URLS[0], "compliant", 9748)] + GOOD[1:], "read 9748 task sessions"),
    (GOOD[:2], "0 combined reports"),
    (GOOD[:2] + [combined_report("compliant", [(URLS[0], "compliant"), (URLS[1], "compliant")])], "the combined report says"),
    (GOOD[:2] + [combined_report("compliant", [(URLS[0], "compliant"), (URLS[1], "non_compliant")])], "combined verdict compliant"),
    (GOOD[:2] + [combined_report("non_compliant", [(URLS[1], "non_compliant")])], "the combined report names"),
])
def test_a_wrong_run_is_refused(tmp_path, documents, problem):
    with pytest.raises(RuntimeError, match=problem):
        check(tmp_path, documents)


def test_a_combined_report_for_one_em_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="combined report for a single EM"):
        check(tmp_path, [GOOD[0], combined_report("compliant", [(URLS[0], "compliant")])], {URLS[0]: 9749})


def test_verdicts_must_not_change_between_runs():
    known = {}
    bench_scale.check_same_verdicts(known, {URLS[0]: "compliant"})
    bench_scale.check_same_verdicts(known, {URLS[0]: "compliant", URLS[1]: "warning"})
    assert known == {URLS[0]: "compliant", URLS[1]: "warning"}
    with pytest.raises(RuntimeError, match="verdict warning in this run, compliant"):
        bench_scale.check_same_verdicts(known, {URLS[0]: "warning"})


def test_the_scale_runs_are_the_issue_22_ones():
    assert bench_scale.EM_SEEDS == tuple(range(100, 120)) and bench_scale.EM_PAGE_DELAY_MS == 50
    assert [(ems, forks) for _label, ems, forks in bench_scale.EM_RUNS] == [(1, 5), (20, 20), (5, 20), (20, 10)]
