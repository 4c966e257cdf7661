# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report vocabulary: verdict order, unreachable EM entries, counting, combining."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import compliance_report as report_lib
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_config import VM_RULES, ComplianceConfigError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import (
    UNREACHABLE_KIND,
    combine_reports,
    count_findings,
    finding,
    human_duration,
    is_unreachable_entry,
    plain,
    unreachable_entry,
    worse,
)


def test_vocabulary_is_exported_once():
    assert report_lib.VM_RULES is VM_RULES
    assert report_lib.VERDICT_ORDER == {"compliant": 0, "warning": 1, "non_compliant": 2, "incomplete": 3}
    assert worse("warning", "compliant") == "warning" and worse("compliant", "incomplete") == "incomplete"
    assert UNREACHABLE_KIND == "cdp_compliance_unreachable"


def test_unreachable_entry_is_the_one_constructor():
    entry = unreachable_entry("https://em1:9398", "connection refused")
    assert entry == {"kind": UNREACHABLE_KIND, "em_host": "https://em1:9398", "status": "unreachable", "verdict": "incomplete",
                     "error": "connection refused"}
    assert is_unreachable_entry(entry)


@pytest.mark.parametrize("item, expected", [
    ({"kind": UNREACHABLE_KIND}, True),
    ({"em_host": "em3", "status": "unreachable", "error": "refused"}, True),
    ({"failed": True, "msg": "timed out", "item": "em4"}, True),
    ({"unreachable": True, "msg": "ssh"}, True),
    ({"failed": True}, False),  # a failed result always has msg; without it this is not one
    ({"failed": "yes", "msg": "x"}, False),
    ({"em_host": "em5", "error": "boom"}, False),
    ({"status": "unreachable", "vms": []}, False),  # a report is never an unreachable entry
    ({"kind": UNREACHABLE_KIND, "vms": []}, False),
    (["status", "unreachable"], False),
    (None, False),
])
def test_is_unreachable_entry(item, expected):
    assert is_unreachable_entry(item) is expected


def test_count_findings_over_vms_policies_and_the_report():
    vms = [{"findings": [finding("coverage", "gap", "violation", "m"), dict(finding("rpo", "rpo_breached", "warning", "m"), waived=True)]}]
    policies = [{"findings": [finding("policy_config", "policy_disabled", "warning", "m")]}]
    assert count_findings(vms, policies, [finding("data_sufficiency", "truncated", "info", "m")]) == (
        {"violation": 1, "warning": 1, "info": 1}, 1)
    assert count_findings([], [], [{"waived": False}]) == ({"violation": 0, "warning": 0, "info": 1}, 0)


def test_combine_reports_rejects_entries_that_are_neither():
    with pytest.raises(ComplianceConfigError) as info:
        combine_reports([{"em_host": "em5", "error": "boom"}])
    assert info.value.option == "reports[0]"
    with pytest.raises(ComplianceConfigError):
        combine_reports([5])


def test_combine_only_unreachable_ems():
    combined = combine_reports([unreachable_entry("em1", "refused"), {"failed": True, "msg": "timed out"}])
    assert combined["verdict"] == "incomplete"
    assert [(em["em_host"], em["error"]) for em in combined["ems"]] == [("em1", "refused"), ("em-2", "timed out")]
    assert combined["data"]["issues"] == ["unreachable:em1", "unreachable:em-2"]
    assert combined["summary"]["findings"] == {"violation": 0, "warning": 0, "info": 2}
    assert combined["summary"]["ems_unreachable"] == 2


def test_plain_and_human_duration():
    moment = datetime.datetime(2025, 6, 15, tzinfo=datetime.timezone.utc)
    expected = {"a": [1, "2025-06-15"], "2": ["2025-06-15T00:00:00Z"], "b": str(object)}
    assert plain({"a": (1, moment.date()), 2: {moment}, "b": object}) == expected
    assert [human_duration(value) for value in (5, 900, 915, 7260, 90000, None)] == ["5s", "15m", "15m 15s", "2h 1m", "1d 1h", "unknown"]
