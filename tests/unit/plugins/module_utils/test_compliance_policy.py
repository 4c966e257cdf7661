# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy records read from EM's documented CdpPolicy fields, in every key casing EM and query_info produce."""

from __future__ import annotations

import os

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import compliance_policy as policy_lib
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import decode_query_page
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import normalise_generic

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")

PASCAL = {
    "UID": "urn:veeam:CdpPolicy:1", "Name": "Gold", "ScheduleEnabled": True,
    "PolicyScheduleOptions": {"CdpReplica": {
        "RecoveryPointObjectiveSeconds": 30, "RecoveryPointObjectiveMinutes": 1,
        "RPOReporting": {"MarkAsWarning": {"Enabled": True, "RPOThresholdSeconds": 30, "RPOThresholdMinutes": 0},
                         "MarkAsFailed": {"Enabled": False, "RPOThresholdSeconds": 0, "RPOThresholdMinutes": 2}}}},
    "CdpPolicyInfo": {"CdpReplicaPolicyInfo": {"Includes": [{"Name": "vm-a", "DisplayName": "vm-a"}, {"Name": "vm-b"}]}},
}
CAMEL = {
    "uid": "urn:veeam:CdpPolicy:1", "name": "Gold", "scheduleEnabled": True,
    "policyScheduleOptions": {"cdpReplica": {
        "recoveryPointObjectiveSeconds": 30, "recoveryPointObjectiveMinutes": 1,
        "rpoReporting": {"markAsWarning": {"enabled": True, "rpoThresholdSeconds": 30, "rpoThresholdMinutes": 0},
                         "markAsFailed": {"enabled": False, "rpoThresholdSeconds": 0, "rpoThresholdMinutes": 2}}}},
    "cdpPolicyInfo": {"cdpReplicaPolicyInfo": {"includes": [{"name": "vm-a", "displayName": "vm-a"}, {"name": "vm-b"}]}},
}


@pytest.mark.parametrize("record", [PASCAL, CAMEL, normalise_generic(PASCAL), normalise_generic(CAMEL)])
def test_documented_fields_in_every_casing(record):
    info = policy_lib.describe_policy(record)
    assert info["rpo_seconds"] == 90.0
    assert info["rpo_reporting"] == {"warning": {"enabled": True, "threshold_seconds": 30.0}, "error": {"enabled": False, "threshold_seconds": 120.0}}
    assert info["enabled"] is True and info["vms_included"] == ["vm-a", "vm-b"]
    assert (info["uid"], info["name"], info["known"]) == ("urn:veeam:CdpPolicy:1", "Gold", True)


def test_the_golden_xml_policy():
    with open(os.path.join(FIXTURES, "cdp_policy_query_result.xml"), "rb") as handle:
        page = decode_query_page(handle.read(), "application/xml", "CdpPolicies")
    info = policy_lib.describe_policy(normalise_generic(page.items[0]))
    assert info["rpo_seconds"] == 15.0 and info["enabled"] is False
    assert info["rpo_reporting"]["error"] == {"enabled": True, "threshold_seconds": 60.0}
    assert info["vms_included"] == ["virt03-ubuntu01"]
    assert info["backup_server"] == "backupsrv29.tech.local"
    assert info["backup_server_uid"] == "urn:veeam:BackupServer:beda8585-1354-451c-afe2-646dcf42afa6"


@pytest.mark.parametrize("options", [
    {},
    {"cdp_replica": {}},
    {"recovery_point_objective_seconds": 15},  # not under CdpReplica: not EM's shape
    {"cdp_replica": {"recovery_point_objective_seconds": "soon"}},
    {"cdp_replica": {"rpo": "PT2M"}},
])
def test_rpo_not_found_is_none(options):
    record = {"uid": "p", "policy_schedule_options": options}
    assert policy_lib.policy_rpo_seconds(record) is None
    assert policy_lib.policy_rpo_reporting(record) == {"warning": {"enabled": None, "threshold_seconds": None},
                                                       "error": {"enabled": None, "threshold_seconds": None}}


def test_minutes_alone_and_text_numbers():
    record = {"PolicyScheduleOptions": {"CdpReplica": {"RecoveryPointObjectiveMinutes": "2"}}}
    assert policy_lib.policy_rpo_seconds(record) == 120.0


def test_enabled_flags():
    assert policy_lib.policy_enabled({"IsEnabled": "False", "ScheduleEnabled": True}) is False
    assert policy_lib.policy_enabled({"schedule_enabled": True}) is True
    assert policy_lib.policy_enabled({"disabled": True}) is False
    assert policy_lib.policy_enabled({}) is None


def test_policy_session_and_unknown_policy():
    session = policy_lib.describe_policy_session({"UID": "s", "PolicyUid": "p", "PolicyName": "Gold", "State": "Working",
                                                  "CreationTimeUTC": "2025-06-14T00:00:00Z", "FailureMessage": " "})
    assert (session["uid"], session["policy_uid"], session["state"], session["failure_message"]) == ("s", "p", "Working", None)
    stub = policy_lib.unknown_policy("p9", "Silver")
    assert stub["known"] is False and stub["rpo_seconds"] is None and stub["rpo_reporting"]["warning"]["enabled"] is None
