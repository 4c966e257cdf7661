# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cdp_compliance filters."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.veeam.enterprise_manager.plugins.filter.cdp_compliance import FilterModule

FILTERS = FilterModule().filters()
NOW = "2025-06-15T00:00:00Z"
RECORD = {"uid": "u1", "vm_display_name": "vm1", "creation_time_utc": "2025-06-14T20:00:00Z", "end_time_utc": None,
          "state": "InProgress", "result": "Success"}


def test_filters_are_registered():
    assert set(FILTERS) == {"cdp_compliance", "cdp_compliance_combine", "cdp_compliance_render"}


def test_accepts_a_query_result_and_its_truncation_flag():
    report = FILTERS["cdp_compliance"]({"sessions": [RECORD], "truncated": True, "count": 1}, now=NOW)
    assert report["vms"][0]["name"] == "vm1"
    assert report["verdict"] == "incomplete"


def test_accepts_policy_query_results():
    policies = {"records": [{"uid": "p1", "name": "Gold", "recovery_point_objective_seconds": 15}]}
    policy_sessions = {"records": [{"uid": "ps1", "policy_uid": "p1"}]}
    report = FILTERS["cdp_compliance"]([dict(RECORD, policy_session_uid="ps1")], now=NOW, policies=policies, policy_sessions=policy_sessions)
    assert report["vms"][0]["policy"] == "Gold"


def test_config_errors_become_filter_errors():
    with pytest.raises(AnsibleFilterError, match="rules.coverage.max_gap"):
        FILTERS["cdp_compliance"]([RECORD], now=NOW, rules={"coverage": {"max_gap": "never"}})
    with pytest.raises(AnsibleFilterError):
        FILTERS["cdp_compliance"]("not a list", now=NOW)


def test_combine_and_render():
    report = FILTERS["cdp_compliance"]([RECORD], now=NOW, evidence={"em_host": "em1"})
    combined = FILTERS["cdp_compliance_combine"]([report, {"em_host": "em2", "status": "unreachable", "error": "refused"}])
    assert combined["verdict"] == "incomplete"
    assert FILTERS["cdp_compliance_render"](combined, "markdown").startswith("# CDP replication compliance")
    assert "<!DOCTYPE html>" in FILTERS["cdp_compliance_render"](report, "html")
    with pytest.raises(AnsibleFilterError):
        FILTERS["cdp_compliance_render"](report, "pdf")
    with pytest.raises(AnsibleFilterError):
        FILTERS["cdp_compliance_combine"]("x")
