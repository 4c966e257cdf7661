# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conformance corpus (tests/unit/fixtures/corpus/SOURCES.md, issue 16 item 4): every decoder and normaliser against
Veeam's documented and captured answers, field by field, in XML, JSON and EM 13 camelCase JSON; then the query_info
module end to end against a replay of each body (the records lookup: tests/unit/plugins/lookup/test_lookup_corpus.py)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import decode_document, decode_query_page, error_message
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import IncompleteResultError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import normalise_generic, normalise_task_session
from ansible_collections.veeam.enterprise_manager.plugins.modules import query_info
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import FIXTURES
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_client import client_for
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_decode import seed_as_em_sends_it
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_paging_bounds import script
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import FakeModule, connection_args, parse

CORPUS = os.path.join(FIXTURES, "corpus")
XML = "application/xml"
JSON = "application/json"
FORMS = (("", XML, ".xml"), ("", JSON, ".json"), ("_camel", JSON, ".json"))


def body(name):
    with open(os.path.join(CORPUS, name), "rb") as handle:
        return handle.read()


# Per documented query example: its type, plural, PagesCount, and for each item the fields the example shows.
QUERY_EXAMPLES = {
    "query_cdpreplicasession_entities": ("CdpReplicaSession", "CdpReplicaSessions", 1, [
        {"uid": "urn:veeam:CdpReplicaSession:d05b25d0-c55c-41dd-b1e3-cd7e454a1937", "name": "CDP Policy@2025-06-16 15:00:53",
         "type": "CdpReplicaSession", "policy_uid": "urn:veeam:CdpPolicy:872a3860-3805-43b8-bcf6-388384bfed33",
         "policy_name": "CDP Policy", "policy_type": "CdpReplica", "creation_time_utc": "2025-06-16T15:00:53.78Z",
         "state": "Working", "result": "None", "progress": 0, "is_retry": False, "end_time_utc": None, "failure_message": None},
        {"uid": "urn:veeam:CdpReplicaSession:30a2b685-f858-4f15-9ef6-d3b007a99d2d", "state": "Stopped", "result": "Failed",
         "creation_time_utc": "2025-06-15T15:00:08.847Z", "end_time_utc": "2025-06-16T15:00:53.78Z"},
    ]),
    "query_backupjobsession_entities": ("BackupJobSession", "BackupJobSessions", 1, [
        {"uid": "urn:veeam:BackupJobSession:07fb4019-dc8c-45ba-a36f-d15f2e7fe41b",
         "name": "Periodic Backup Copy Job\\Backup Job 1@2025-08-16 05:17:38.22142", "job_type": "ImmediateBackupCopyWorker",
         "job_name": "Periodic Backup Copy Job\\Backup Job 1", "creation_time_utc": "2025-08-16T05:17:38.22142Z",
         "end_time_utc": "2025-08-16T05:25:01.879599Z", "state": "Stopped", "result": "Failed", "progress": 100, "is_retry": True},
        {"uid": "urn:veeam:BackupJobSession:1f038a6b-7968-4052-be97-3ed6b7aaf6a3", "job_type": "Backup", "result": "Success", "is_retry": False},
    ]),
    "query_backuptasksession_entities_page1_of_7": ("BackupTaskSession", "BackupTaskSessions", 7, [
        {"uid": "urn:veeam:BackupTaskSession:38ceb150-e0a8-4f87-8a17-243afc1b98f4", "vm_display_name": "dbserver01",
         "job_session_uid": "urn:veeam:BackupJobSession:35c24055-bdee-4e43-b655-a42de408d2ec", "total_size": 0,
         "reason": "Hard disk 1 (0 B)", "vm_uid": "urn:VMware:Vm:de28dc43-b8ee-4e17-8e63-3d38b6604033.vm-62228"},
        {"uid": "urn:veeam:BackupTaskSession:e381e791-db27-492a-889b-1ed1f8217016", "creation_time_utc": "2025-05-13T05:00:30.853Z"},
        {"uid": "urn:veeam:BackupTaskSession:c8de8f77-46d7-4671-b789-f490cd710692", "end_time_utc": "2025-05-12T05:01:58.407Z"},
    ]),
}


def _examples():
    for stem in sorted(QUERY_EXAMPLES):
        for suffix, content_type, extension in FORMS:
            yield pytest.param(stem, stem + suffix + extension, content_type, id=stem + suffix + extension)


@pytest.mark.parametrize("stem, name, content_type", list(_examples()))
def test_documented_query_examples_field_by_field(stem, name, content_type):
    dummy, plural, pages_count, expected = QUERY_EXAMPLES[stem]
    page = decode_query_page(body(name), content_type, plural)
    assert page.pages_count == pages_count and len(page.items) == len(expected)
    for raw, fields in zip(page.items, expected):
        record = normalise_generic(raw)
        for field, value in fields.items():
            assert record.get(field) == value, (name, field)
        up = [link for link in record["links"] if link["rel"] == "Up" and link["type"] == "BackupServerReference"]
        assert len(up) == 1 and up[0]["href"].startswith("https://")


@pytest.mark.parametrize("stem", sorted(QUERY_EXAMPLES))
def test_xml_json_and_camel_json_give_one_record(stem):
    plural = QUERY_EXAMPLES[stem][1]
    records = [[normalise_generic(raw) for raw in decode_query_page(body(stem + suffix + extension), content_type, plural).items]
               for suffix, content_type, extension in FORMS]
    assert records[0] == records[1] == records[2]


def test_references_capture_v11():
    page = decode_query_page(body("query_job_references_v11.json"), JSON)
    assert page.pages_count == 1
    records = [normalise_generic(raw) for raw in page.items]
    assert [(record["uid"], record["name"], record["type"]) for record in records] == [
        ("urn:veeam:Job:da92cf2d-3d44-4bf6-85e6-112404f32405", "k8s", "JobReference"),
        ("urn:veeam:Job:904aafb4-30ac-44b6-9e3b-25ec2bfbefdf", "Tiny NFS vm", "JobReference")]
    assert records[0]["links"][2] == {"rel": "Down", "type": "BackupJobSessionReferenceList", "name": None,
                                      "href": "https://192.168.4.44:9398/api/jobs/da92cf2d-3d44-4bf6-85e6-112404f32405/backupSessions"}


@pytest.mark.parametrize("name, content_type", [("seed_query_result.xml", XML), ("seed_query_result_pascal.json", JSON),
                                                ("seed_query_result_camel.json", JSON)])
def test_seed_task_sessions_in_every_form(name, content_type):
    if name.endswith(".xml"):
        text = seed_as_em_sends_it()  # the doc page prints its paging links unescaped (test_decode.py)
    else:
        with open(os.path.join(FIXTURES, name), "rb") as handle:
            text = handle.read()
    page = decode_query_page(text, content_type, "CdpReplicaTaskSessions")
    records = [normalise_task_session(raw) for raw in page.items]
    assert page.pages_count == 1 and len(records) == 3
    first = records[0]
    assert first["vm_display_name"] == "virt03-ubuntu01" and first["state"] == "Completed" and first["result"] == "Success"
    assert first["backup_server_name"] == "backupsrv29.tech.local" and first["total_size"] == 17179869184
    assert first["creation_time_utc"] == "2021-06-15T07:00:06.787Z" and first["policy_session_uid"].startswith("urn:veeam:CdpReplicaSession:")


@pytest.mark.parametrize("name, content_type", [("logon_session.xml", XML), ("logon_session.json", JSON), ("logon_session_camel.json", JSON)])
def test_logon_session(name, content_type):
    root, raw = decode_document(body(name), content_type)
    assert root in ("LogonSession", None)
    record = normalise_generic(raw)
    assert record["session_id"] == "15a3fc97-0325-4119-b789-5c0367c6c565" and record["user_name"] == "SRV12\\Administrator"
    delete = [link["href"] for link in record["links"] if link["rel"] == "Delete"]
    assert delete == ["https://srv12.tech.local:9398/api/logonSessions/15a3fc97-0325-4119-b789-5c0367c6c565"]


def test_em_root_document():
    root, raw = decode_document(body("em_root.xml"), XML)
    assert root == "EnterpriseManager"
    # A wrapper of repeated elements reads as the list EM's JSON would hold.
    versions = raw["SupportedVersions"]
    assert [version["Name"] for version in versions] == ["v1_5", "v1_6", "v1_7"]
    assert versions[2]["Links"] == [{"Href": "https://localhost:9398/api/sessionMngr/?v=v1_7", "Type": "LogonSession", "Rel": "Create"}]
    assert [link["Rel"] for link in raw["Links"]] == ["Down", "Create"]


@pytest.mark.parametrize("name, content_type, message", [
    ("error_500.xml", XML, "Object reference not set to an instance of an object."),
    ("error_400.json", JSON, "Node [root] does not exist."),
    ("error_400_camel.json", JSON, "Node [root] does not exist."),
])
def test_error_bodies(name, content_type, message):
    assert error_message(body(name), content_type) == message


# -- end to end against a replay ------------------------------------------------------------------


def replay(sim, name, content_type):
    script(sim, lambda page, size, params: (body(name).decode("utf-8"), content_type))


@pytest.mark.parametrize("stem, name, content_type", [param for param in _examples() if "page1_of_7" not in param.id])
def test_query_info_module_against_a_replay(em_sim, stem, name, content_type):
    query_type, plural, dummy, expected = QUERY_EXAMPLES[stem]
    replay(em_sim, name, content_type)
    params = dict(connection_args(em_sim), type=query_type, response_format="json" if content_type == JSON else "xml")
    if query_type == "CdpReplicaSession":
        # The replay ignores the requested order; the documented answer is newest first, so ask for that.
        params.update(sort_by="CreationTimeUTC", sort_order="desc")
    module = FakeModule(parse(query_info.ARGUMENT_SPEC, params))
    with client_for(em_sim) as client:
        result = query_info.run(module, client)
    assert result["count"] == result["total"] == len(expected) and result["pages"] == 1
    assert [record["uid"] for record in result["records"]] == [fields["uid"] for fields in expected]
    decoded = [normalise_generic(raw) for raw in decode_query_page(body(name), content_type, plural).items]
    assert result["records"] == decoded
    assert em_sim.state()["open_sessions"] == 0


def test_a_replayed_first_page_of_seven_is_never_a_complete_result(em_sim):
    # The documented page 1 of 7, answered for every page: EM's pages do not fit together, so nothing is returned.
    replay(em_sim, "query_backuptasksession_entities_page1_of_7.xml", XML)
    module = FakeModule(parse(query_info.ARGUMENT_SPEC, dict(connection_args(em_sim), type="BackupTaskSession", response_format="xml",
                                                             page_size=3)))
    with client_for(em_sim, retries=1) as client:
        with pytest.raises(IncompleteResultError) as info:
            query_info.run(module, client)
    assert "page 2 held only records of earlier pages" in info.value.message


# -- the simulator answers as the documentation does ---------------------------------------------


@pytest.mark.parametrize("query_type, plural, example", [
    ("CdpReplicaSession", "CdpReplicaSessions", "query_cdpreplicasession_entities.xml"),
    ("CdpReplicaTaskSession", "CdpReplicaTaskSessions", None),
])
def test_simulator_items_have_the_documented_fields(em_sim, query_type, plural, example):
    documented = seed_as_em_sends_it() if example is None else body(example)
    expected = {key for raw in decode_query_page(documented, XML, plural).items for key in raw}
    with client_for(em_sim) as client:
        response = client.check(client.get("/api/query", "type=%s&format=Entities&pageSize=50&page=1" % query_type, page=1, accept="xml"),
                                "/api/query", 1)
    simulated = decode_query_page(response.content, response.headers.get("Content-Type"), plural).items
    assert simulated and all(set(raw) <= expected | {"EndTimeUTC", "Reason"} for raw in simulated)
    assert {key for raw in simulated for key in raw} >= expected - {"EndTimeUTC", "Reason"}
