# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CSV report: the per-VM table, one row per VM, for spreadsheets.

Quoting is the csv module's. A spreadsheet runs a cell that starts with = + - @ (or tab / carriage return) as a
formula, so such text cells get a leading apostrophe; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io

from .report_common import active_findings, clean_text, expected_text, is_combined, sorted_vms, waiver_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("status", "em_host", "vm", "expected", "waiver", "policy", "backup_server", "rpo_seconds", "coverage_percent",
           "worst_gap_seconds", "rpo_ratio", "sessions", "last_session_end", "findings")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    text = clean_text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(vm, combined):
    codes = ", ".join(sorted({str(finding.get("code")) for finding in active_findings(vm)}))
    values = {
        "status": vm.get("status"), "em_host": vm.get("em_host") if combined else None, "vm": vm.get("name"),
        "expected": expected_text(vm), "waiver": waiver_text(vm), "policy": vm.get("policy"), "backup_server": vm.get("backup_server"),
        "rpo_seconds": vm.get("rpo_seconds"), "coverage_percent": vm.get("coverage_percent"), "worst_gap_seconds": vm.get("worst_gap_seconds"),
        "rpo_ratio": vm.get("rpo_ratio"), "sessions": vm.get("sessions"), "last_session_end": vm.get("last_session_end"), "findings": codes,
    }
    return [_cell(values[column]) for column in COLUMNS]


def render_csv(report):
    """One header row, then one row per VM, worst first (RFC 4180 quoting, CRLF line ends)."""
    combined = is_combined(report)
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(vm, combined) for vm in sorted_vms(report))
    return stream.getvalue()
