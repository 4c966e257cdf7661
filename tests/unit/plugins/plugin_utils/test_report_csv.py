# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CSV report: the per-VM table, quoted by the csv module, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_csv import COLUMNS, render_csv
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import HOSTILE, NASTY, sample_report, second_report


def _rows(report):
    text = render_csv(report)
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_one_row_per_vm_worst_first():
    report = sample_report()
    rows = _rows(report)
    assert tuple(rows[0]) == COLUMNS
    body = [dict(zip(COLUMNS, row)) for row in rows[1:]]
    assert len(body) == len(report["vms"])
    assert body[0]["status"] == "non_compliant" and body[0]["vm"] == HOSTILE.replace("\x01", "\u2401")
    good = next(row for row in body if row["vm"] == "good")
    assert good["findings"] == "" and good["em_host"] == "" and float(good["coverage_percent"]) > 0


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"])
def test_formula_cells_get_an_apostrophe(value):
    report = sample_report()
    report["vms"][0]["name"] = value
    report["vms"][0]["policy"] = value
    row = dict(zip(COLUMNS, _rows(report)[1]))
    assert row["vm"].startswith("'") and row["policy"].startswith("'")
    assert row["vm"][1:] == value  # the text itself is kept


def test_numbers_stay_numbers_and_hostile_text_round_trips():
    report = sample_report(hostile=NASTY)
    rows = [dict(zip(COLUMNS, row)) for row in _rows(report)[1:]]
    assert all(not row["coverage_percent"].startswith("'") for row in rows)
    names = {row["vm"] for row in rows}
    assert any(name.startswith("<script>alert(\"x\")</script>") and "\nnext line" in name for name in names)


def test_combined_csv_names_the_em():
    rows = [dict(zip(COLUMNS, row)) for row in _rows(combine_reports([sample_report("em1"), second_report("em2")]))[1:]]
    assert {row["em_host"] for row in rows} == {"em1", "em2"}
