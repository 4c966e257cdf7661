# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remediation plan: which audited policies fail the standard, what to set, and what stays out of scope."""

from __future__ import annotations

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.cdp_remediation import normalize_standard, remediation_plan
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError


def finding(code, waived=False):
    return {"rule": "policy_config", "code": code, "severity": "warning", "message": code, "evidence": {}, "waived": waived}


def policy(name, server="srv1", rpo=60, vms=2, findings=(), known=True, enabled=True):
    return {"uid": "urn:veeam:CdpPolicy:%s" % name, "name": name, "backup_server": server, "known": known, "enabled": enabled,
            "rpo_seconds": rpo, "rpo_reporting": {"warning": {"enabled": True, "threshold_seconds": 120},
                                                  "error": {"enabled": True, "threshold_seconds": 240}},
            "vms": vms, "findings": list(findings)}


REPORT = {"kind": "cdp_compliance_report", "policies": [
    policy("ok"),
    policy("off", enabled=False, findings=[finding("policy_disabled"), finding("policy_session_failed")]),
    policy("quiet", findings=[finding("rpo_warning_reporting_off"), finding("rpo_error_reporting_off")], server="srv2"),
    policy("loose", rpo=900),
    policy("waived", findings=[finding("rpo_error_reporting_off", waived=True)]),
    policy("empty", vms=0, enabled=False, findings=[finding("policy_disabled")]),
    policy("ghost", known=False, findings=[finding("policy_not_found")]),
]}


def names(plan):
    return [entry["name"] for entry in plan]


def test_standard_defaults_and_validation():
    assert normalize_standard(None) == {"enabled": True, "rpo_warning": True, "rpo_error": True, "max_rpo_seconds": None}
    assert normalize_standard({"max_rpo": "5m", "rpo_error": False})["max_rpo_seconds"] == 300
    for bad, option in (({"max_rpo": "soon"}, "max_rpo"), ({"max_rpo": "1.5"}, "max_rpo"), ({"enabled": "yes"}, "enabled"),
                        ({"disable": True}, "cdp_compliance_policy_standard")):
        with pytest.raises(InvalidInputError) as info:
            normalize_standard(bad)
        assert info.value.option.endswith(option)


def test_plan_fixes_the_failed_checks_and_only_enables():
    plan = remediation_plan(REPORT, {"max_rpo": "5m"})
    assert names(plan) == ["off", "quiet", "loose", "empty"]
    off, quiet, loose = plan[:3]
    assert off["set"] == {"enabled": True} and off["reasons"] == ["policy_disabled"] and off["before"]["enabled"] is False
    assert quiet["set"] == {"rpo_warning": {"enabled": True}, "rpo_error": {"enabled": True}}
    assert loose["set"] == {"rpo": 300} and loose["reasons"] == ["rpo_above_standard"]
    for entry in plan:
        assert False not in [value for value in entry["set"].values() if isinstance(value, bool)]
        assert all(value.get("enabled") is True for value in entry["set"].values() if isinstance(value, dict))


def test_standard_switches_parts_off():
    plan = remediation_plan(REPORT, {"enabled": False, "rpo_error": False})
    assert names(plan) == ["quiet"] and plan[0]["set"] == {"rpo_warning": {"enabled": True}}
    assert names(remediation_plan(REPORT, {"enabled": False, "rpo_warning": False, "rpo_error": False})) == []


def test_nothing_outside_the_audit_scope():
    assert names(remediation_plan(REPORT, {}, backup_server_name="SRV2")) == ["quiet"]
    assert names(remediation_plan(REPORT, {}, backup_server_name=["srv1"], vm_display_name="db01")) == ["off"]
    assert names(remediation_plan(REPORT, {}, filter_expression="VmDisplayName==\"x\"")) == ["off", "quiet"]
    assert remediation_plan({"kind": "cdp_compliance_unreachable", "status": "unreachable"}, {}) == []
