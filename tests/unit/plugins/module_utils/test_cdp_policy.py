# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CDP policy settings as code: input validation, reading, the desired-state diff, PUT bodies and EM task waiting."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import em_task
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.cdp_policy import (
    apply_changes, desired_state, differences, managed_view, needs_put, normalise_policy, parse_seconds, policy_uid, put_body, split_seconds)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_policy import describe_policy
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import decode_document
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import normalise_generic
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim import policies as simpolicies

NS = "{http://www.veeam.com/ent/v1.0}"
POLICY = {"uid": "urn:veeam:CdpPolicy:872a3860-3805-43b8-bcf6-388384bfed33", "name": 'Tier "A" & <B>', "enabled": False, "rpo_seconds": 60,
          "rpo_warning": {"enabled": False, "threshold_seconds": 120}, "rpo_error": {"enabled": True, "threshold_seconds": 240}}
# Veeam's documented GET /cdpPolicies/{ID}?format=Entity example, trimmed to the elements the readers use.
ENTITY = """<CdpPolicy xmlns="http://www.veeam.com/ent/v1.0" Type="CdpPolicy" Name="CDP Policy 1"
 UID="urn:veeam:CdpPolicy:bc933bb6-0cc5-47b6-a1ec-e062b9e29877">
 <Links><Link Rel="Up" Type="BackupServerReference"
 Href="https://localhost:9398/api/backupServers/cca0b96b-4924-4461-8899-b831bc00176e" Name="enterprise03.tech.local" />
 <Link Rel="Disable" Href="https://localhost:9398/api/cdpPolicies/bc933bb6-0cc5-47b6-a1ec-e062b9e29877?action=disable" />
 </Links>
 <PolicyType>CdpReplica</PolicyType><Platform>VMware</Platform><Description>Created by ENTERPRISE03\\Administrator</Description>
 <ScheduleConfigured>true</ScheduleConfigured><ScheduleEnabled>true</ScheduleEnabled><NextRun>2025-02-10T22:39:34.827Z</NextRun>
 <PolicyScheduleOptions><CdpReplica><RecoveryPointObjectiveSeconds>15</RecoveryPointObjectiveSeconds>
 <RecoveryPointObjectiveMinutes>0</RecoveryPointObjectiveMinutes><RPOReporting>
 <MarkAsWarning><Enabled>true</Enabled><RPOThresholdSeconds>2</RPOThresholdSeconds><RPOThresholdMinutes>0</RPOThresholdMinutes></MarkAsWarning>
 <MarkAsFailed><Enabled>false</Enabled><RPOThresholdSeconds>0</RPOThresholdSeconds><RPOThresholdMinutes>3</RPOThresholdMinutes></MarkAsFailed>
 </RPOReporting></CdpReplica></PolicyScheduleOptions>
 <CdpPolicyInfo><CdpReplicaPolicyInfo><Includes><ObjectInJob><Name>virt03-vm01</Name><DisplayName>virt03-vm01</DisplayName></ObjectInJob>
 </Includes></CdpReplicaPolicyInfo></CdpPolicyInfo></CdpPolicy>"""


# -- input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, seconds", [(15, 15), ("15", 15), ("15s", 15), ("2m", 120), ("1h", 3600)])
def test_parse_seconds(value, seconds):
    assert parse_seconds("rpo", value) == seconds


@pytest.mark.parametrize("value", ["0", "1.5", "-3", "soon", True, "0.5s"])
def test_parse_seconds_refuses_what_em_cannot_store(value):
    with pytest.raises(InvalidInputError) as info:
        parse_seconds("rpo", value)
    assert info.value.option == "rpo" and "rpo" in info.value.message


def test_desired_state_keeps_only_what_is_set():
    assert desired_state({"enabled": None, "rpo": None, "rpo_warning": None, "rpo_error": None}) == {}
    desired = desired_state({"enabled": False, "rpo": "2m", "rpo_warning": {"enabled": None, "threshold": "30s"},
                             "rpo_error": {"enabled": True, "threshold": None}})
    assert desired == {"enabled": False, "rpo_seconds": 120, "rpo_warning": {"threshold_seconds": 30}, "rpo_error": {"enabled": True}}


def test_desired_state_names_the_nested_option():
    with pytest.raises(InvalidInputError) as info:
        desired_state({"rpo_error": {"enabled": True, "threshold": "later"}})
    assert info.value.option == "rpo_error.threshold"


def test_policy_uid_accepts_guid_or_uid_and_refuses_paths():
    guid = "872a3860-3805-43b8-bcf6-388384bfed33"
    assert policy_uid(guid) == policy_uid("URN:veeam:CdpPolicy:" + guid) == "urn:veeam:CdpPolicy:" + guid
    for bad in ("", "../tasks/task-1", "urn:veeam:CdpPolicy:", "a b"):
        with pytest.raises(InvalidInputError):
            policy_uid(bad)


# -- reading: one reader for the module and the audit --------------------------------------------


def test_normalise_policy_reads_the_documented_entity_like_the_audit():
    dummy, raw = decode_document(ENTITY.encode("utf-8"), "application/xml")
    record = normalise_generic(raw)
    policy = normalise_policy(record)
    audit = describe_policy(record)
    assert policy["enabled"] is audit["enabled"] is True
    assert policy["rpo_seconds"] == audit["rpo_seconds"] == 15 and isinstance(policy["rpo_seconds"], int)
    assert policy["rpo_warning"] == {"enabled": True, "threshold_seconds": 2}
    assert policy["rpo_error"] == {"enabled": False, "threshold_seconds": 180}
    assert audit["rpo_reporting"]["error"] == {"enabled": False, "threshold_seconds": 180.0}
    assert policy["backup_server"] == "enterprise03.tech.local" and policy["platform"] == "VMware"
    assert policy["backup_server_uid"] == "urn:veeam:BackupServer:cca0b96b-4924-4461-8899-b831bc00176e"
    assert policy["next_run"] == "2025-02-10T22:39:34.827Z" and policy["vms_included"] == ["virt03-vm01"]


# -- comparing -----------------------------------------------------------------------------------


def test_differences_compare_only_the_options_set():
    assert differences(POLICY, {"enabled": False, "rpo_seconds": 60}) == {}
    desired = {"enabled": True, "rpo_warning": {"enabled": False, "threshold_seconds": 30}, "rpo_error": {"enabled": True}}
    changes = differences(POLICY, desired)
    assert changes == {"enabled": True, "rpo_warning": {"threshold_seconds": 30}}
    before = managed_view(POLICY, desired)
    assert before == {"enabled": False, "rpo_warning": {"enabled": False, "threshold_seconds": 120}, "rpo_error": {"enabled": True}}
    after = apply_changes(before, changes)
    assert after == {"enabled": True, "rpo_warning": {"enabled": False, "threshold_seconds": 30}, "rpo_error": {"enabled": True}}
    assert before["rpo_warning"]["threshold_seconds"] == 120  # apply_changes copies
    assert needs_put(changes) and not needs_put({"enabled": True})


def test_unknown_current_value_counts_as_different():
    policy = dict(POLICY, rpo_seconds=None, rpo_warning={"enabled": None, "threshold_seconds": None})
    assert differences(policy, {"rpo_seconds": 60, "rpo_warning": {"enabled": False}}) == {"rpo_seconds": 60, "rpo_warning": {"enabled": False}}


# -- PUT body ------------------------------------------------------------------------------------


@pytest.mark.parametrize("total, pair", [(15, (15, 0)), (60, (0, 1)), (90, (90, 0)), (3600, (0, 60))])
def test_split_seconds(total, pair):
    assert split_seconds(total) == pair


def _children(element):
    return [child.tag.replace(NS, "") for child in element]


def test_xml_body_is_in_ems_element_order_and_carries_only_changes():
    changes = {"rpo_seconds": 120, "rpo_error": {"threshold_seconds": 45}, "rpo_warning": {"enabled": True}}
    body, content_type = put_body(POLICY, changes, "xml")
    assert content_type == "xml" and body.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(body)
    assert root.tag == NS + "CdpPolicy" and root.get("UID") == POLICY["uid"] and root.get("Name") == POLICY["name"]
    replica = root.find(NS + "PolicyScheduleOptions/" + NS + "CdpReplica")
    assert _children(root) == ["PolicyScheduleOptions"]
    assert _children(replica) == ["RecoveryPointObjectiveSeconds", "RecoveryPointObjectiveMinutes", "RPOReporting"]
    assert [replica[0].text, replica[1].text] == ["0", "2"]
    reporting = replica.find(NS + "RPOReporting")
    assert _children(reporting) == ["MarkAsWarning", "MarkAsFailed"]
    assert _children(reporting[0]) == ["Enabled"] and reporting[0][0].text == "true"
    # Only the threshold changes: Enabled goes along with its current value.
    assert _children(reporting[1]) == ["Enabled", "RPOThresholdSeconds", "RPOThresholdMinutes"]
    assert [child.text for child in reporting[1]] == ["true", "45", "0"]
    # The simulator's EM-order check accepts it and reads the same changes.
    assert simpolicies.planned_changes(simpolicies.parse_body(body.encode("utf-8"), "application/xml")) == {
        "rpo_seconds": 120, "warn_enabled": True, "fail_enabled": True, "fail_seconds": 45}


def test_json_body_has_the_same_elements():
    body, content_type = put_body(POLICY, {"rpo_seconds": 15, "rpo_warning": {"enabled": False}}, "json")
    document = json.loads(body)
    assert content_type == "json" and document["UID"] == POLICY["uid"] and document["Type"] == "CdpPolicy"
    assert document["PolicyScheduleOptions"] == {"CdpReplica": {"RecoveryPointObjectiveSeconds": 15, "RecoveryPointObjectiveMinutes": 0,
                                                                "RPOReporting": {"MarkAsWarning": {"Enabled": False}}}}
    assert simpolicies.planned_changes(simpolicies.parse_body(body.encode("utf-8"), "application/json")) == {
        "rpo_seconds": 15, "warn_enabled": False}


def test_simulator_refuses_out_of_order_and_unknown_elements():
    swapped = ('<CdpPolicy xmlns="http://www.veeam.com/ent/v1.0"><PolicyScheduleOptions><CdpReplica><RPOReporting />'
               '<RecoveryPointObjectiveSeconds>5</RecoveryPointObjectiveSeconds></CdpReplica></PolicyScheduleOptions></CdpPolicy>')
    with pytest.raises(simpolicies.BodyError, match="out of order"):
        simpolicies.parse_body(swapped.encode("utf-8"), "application/xml")
    unknown = swapped.replace("<RPOReporting />", "<Rpo>5</Rpo>")
    with pytest.raises(simpolicies.BodyError, match="not expected"):
        simpolicies.parse_body(unknown.encode("utf-8"), "application/xml")
    with pytest.raises(simpolicies.BodyError, match="root"):
        simpolicies.parse_body(b"<CdpPolicy><Description /></CdpPolicy>", "application/xml")


# -- EM tasks ------------------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, body, status=200, content_type="application/xml"):
        self.content = body.encode("utf-8")
        self.status_code = status
        self.headers = {"Content-Type": content_type}


def task_xml(state, success=None, message=None, task_id="task-7"):
    result = '<Result Success="%s"><Message>%s</Message></Result>' % (str(success).lower(), message) if success is not None else ""
    return ('<Task xmlns="http://www.veeam.com/ent/v1.0" Type="Task" Href="https://localhost:9398/api/tasks/%s"><Links />'
            "<TaskId>%s</TaskId><State>%s</State><Operation>EditCdpPolicy</Operation>%s</Task>" % (task_id, task_id, state, result))


class FakeClient:
    """Answers task polls from a script; records the paths asked."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.paths = []

    def request(self, method, path, **kwargs):
        self.paths.append((method, path))
        return FakeResponse(self.answers.pop(0))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_parse_task_reads_xml_and_json():
    task = em_task.parse_task(FakeResponse(task_xml("Finished", True, "Ok")))
    assert task == {"id": "task-7", "operation": "EditCdpPolicy", "state": "Finished", "success": True, "message": "Ok"}
    body = json.dumps({"taskId": "task-8", "state": "Running", "operation": "UpdateCdpPolicy", "result": {"success": "false", "message": "x"}})
    task = em_task.parse_task(FakeResponse(body, content_type="application/json"))
    assert task["id"] == "task-8" and task["success"] is False and task["message"] == "x"
    with pytest.raises(em_task.DecodeError, match="TaskId"):
        em_task.parse_task(FakeResponse('<Task xmlns="http://www.veeam.com/ent/v1.0"><State>Running</State></Task>', status=202))


def test_wait_follows_the_task_until_finished():
    clock = Clock()
    client = FakeClient([task_xml("Running"), task_xml("OperationFinished", True, "OperationFinished"), task_xml("Finished", True, "Ok")])
    first = em_task.parse_task(FakeResponse(task_xml("Running")))
    task = em_task.wait(client, first, 60, "policy X", sleep=clock.sleep, clock=clock)
    assert task["state"] == "Finished" and task["message"] == "Ok"
    assert client.paths == [("GET", "/api/tasks/task-7")] * 3


def test_wait_fails_with_ems_own_message():
    clock = Clock()
    client = FakeClient([task_xml("Finished", False, "Backup server backupsrv30 is not available")])
    with pytest.raises(em_task.TaskFailedError) as info:
        em_task.wait(client, em_task.parse_task(FakeResponse(task_xml("Running"))), 60, "CDP policy 'A'", sleep=clock.sleep, clock=clock)
    assert "Backup server backupsrv30 is not available" in info.value.message and "CDP policy 'A'" in info.value.message
    assert info.value.to_result()["task"]["id"] == "task-7"


def test_wait_gives_up_after_the_timeout():
    clock = Clock()
    client = FakeClient([task_xml("Running")] * 100)
    with pytest.raises(em_task.TaskTimeoutError) as info:
        em_task.wait(client, em_task.parse_task(FakeResponse(task_xml("Running"))), 5, "CDP policy 'A'", sleep=clock.sleep, clock=clock)
    assert "still Running after 5 s" in info.value.message and "may still" in info.value.message
    assert 5.0 <= clock.now < 7.0 and len(client.paths) < 10
