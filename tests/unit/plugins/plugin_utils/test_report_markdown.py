# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown report: summarised, and escaped so that EM text cannot break its tables or inject markup."""

from __future__ import annotations

import re

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_markdown import render_markdown
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import NASTY, NOW, sample_report, session


def test_markdown_escapes_and_summarises():
    text = render_markdown(sample_report())
    assert "<script>" not in text
    assert "\\|" in text and "\\*" in text
    assert text.startswith("# CDP replication compliance: NON COMPLIANT")
    assert "## Policies" in text and "## VMs needing attention" in text
    assert "warn" not in text.split("## VMs needing attention")[1]  # its only warning is waived


def test_markdown_caps_vm_details_visibly():
    records = [session("vm%03d" % index, "2025-06-14T02:00:00Z", "2025-06-14T03:00:00Z") for index in range(30)]
    text = render_markdown(evaluate(records, now=NOW), max_vms=10)
    assert "20 more VMs need attention" in text


def test_hostile_values_cannot_break_a_table_row():
    text = render_markdown(sample_report(em_host=NASTY, hostile=NASTY))
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "[a](javascript" not in text  # no live link
    assert "\nnext line" not in text  # line breaks folded into the cell
    columns = None
    rows = 0
    for line in text.splitlines():
        cells = len(re.findall(r"(?<!\\)\|", line))
        if not line.startswith("|"):
            columns = None
        elif columns is None:
            columns = cells  # a table's header
        else:
            assert cells == columns, line
            rows += 1
    assert rows >= 4


def test_combined_markdown_lists_every_em():
    combined = combine_reports([sample_report("em1"), {"em_host": "em3", "status": "unreachable", "error": "connection refused"}])
    text = render_markdown(combined)
    assert "## EM servers" in text and "| em3 | unreachable | incomplete | - | connection refused |" in text
    assert "| status | VM | EM | expected | waiver | policy |" in text
