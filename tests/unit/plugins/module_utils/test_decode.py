# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decoding EM bodies (XML, JSON PascalCase and camelCase) and normalising records."""

from __future__ import annotations

import html
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import decode as decode_module
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import (
    Page,
    decode_document,
    decode_query_page,
    error_message,
    key_lookup,
    lower_keys,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import DecodeError, EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import (
    backup_server_from_links,
    backup_server_urn,
    normalise_generic,
    normalise_task_session,
    snake_case,
)
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.faults import BILLION_LAUGHS, EXTERNAL_ENTITY
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import fixture_bytes

XML = "application/xml"
JSON = "application/json"
PLURAL = "CdpReplicaTaskSessions"
NS = 'xmlns="http://www.veeam.com/ent/v1.0"'
BASE = "https://localhost:9398/api"
SERVER_LINK = {"rel": "Up", "type": "BackupServerReference", "href": BASE + "/backupServers/beda8585-1354-451c-afe2-646dcf42afa6",
               "name": "backupsrv29.tech.local"}


@pytest.fixture(autouse=True, params=["msgspec", "stdlib json"])
def json_parser(request, monkeypatch):
    """Every test here runs with each JSON parser: msgspec when installed, and the standard library."""
    if request.param == "msgspec" and not decode_module.HAS_MSGSPEC:
        pytest.skip("msgspec is not installed")
    monkeypatch.setattr(decode_module, "HAS_MSGSPEC", request.param == "msgspec")
    return request.param


def _expected(guid, name, policy_guid, policy_name, created, ended, duration):
    return {
        "uid": "urn:veeam:CdpReplicaTaskSession:" + guid,
        "name": name,
        "vm_display_name": "virt03-ubuntu01",
        "policy_session_uid": "urn:veeam:CdpReplicaSession:" + policy_guid,
        "policy_session_name": policy_name,
        "backup_server_uid": "urn:veeam:BackupServer:beda8585-1354-451c-afe2-646dcf42afa6",
        "backup_server_name": "backupsrv29.tech.local",
        "creation_time_utc": created,
        "end_time_utc": ended,
        "state": "Completed",
        "result": "Success",
        "reason": None,
        "total_size": 17179869184,
        "duration_seconds": duration,
        "href": BASE + "/replicaTaskSessions/%s?format=Entity" % guid,
        "links": [
            SERVER_LINK,
            {"rel": "Up", "type": "CdpReplicaSessionReference", "href": BASE + "/cdpReplicaSessions/" + policy_guid, "name": policy_name},
            {"rel": "Alternate", "type": "CdpReplicaTaskSessionReference", "href": BASE + "/cdpReplicaTaskSessions/" + guid, "name": name},
        ],
    }


SEED_RECORDS = [
    _expected("787d754e-6399-46f1-8199-2207f0e8fe20", "virt03-ubuntu01@2021-06-15 07:00:06", "042da2cf-86a9-4d09-9766-be90f3ccd506",
              "CDP Policy@2021-06-14 15:00:24", "2021-06-15T07:00:06.787Z", "2021-06-15T15:00:08.847Z", 28802.06),
    _expected("0e9b9a27-15fd-4dee-98f9-5a98f0d89a3e", "virt03-ubuntu01@2021-06-15 15:00:09", "30a2b685-f858-4f15-9ef6-d3b007a99d2d",
              "CDP Policy@2021-06-15 15:00:08", "2021-06-15T15:00:09.050Z", "2021-06-15T23:00:06.493Z", 28797.443),
    _expected("136e9284-b6b3-44f2-ad04-af57a610c3cd", "virt03-ubuntu01@2021-06-15 23:00:06", "30a2b685-f858-4f15-9ef6-d3b007a99d2d",
              "CDP Policy@2021-06-15 15:00:08", "2021-06-15T23:00:06.510Z", "2021-06-16T07:00:06.663Z", 28800.153),
]


def seed_as_em_sends_it():
    """The seed page's XML with the paging link Hrefs escaped.

    The documentation page prints those two attribute values unescaped (raw ``&`` and ``"``), which
    is not well-formed XML; EM's serialiser writes ``&amp;`` / ``&quot;`` there. Nothing else changes.
    """
    text = fixture_bytes("seed_query_result.xml").decode("utf-8")
    fixed, count = re.subn(r'(<Link Rel="(?:First|Last)" Href=")(.*?)(" />)',
                           lambda match: match.group(1) + html.escape(match.group(2), quote=True) + match.group(3), text)
    assert count == 2
    return fixed.encode("utf-8")


def records(body, content_type=XML, plural=PLURAL):
    """The page and its records with links, so every field of the record contract is compared."""
    page = decode_query_page(body, content_type, plural)
    return page, [normalise_task_session(item, include_links=True) for item in page.items]


# -- the seed example ----------------------------------------------------------------------------


def test_seed_fixture_is_the_documentation_text():
    body = fixture_bytes("seed_query_result.xml")
    assert body.startswith(b'<QueryResult xmlns="http://www.veeam.com/ent/v1.0">') and body.endswith(b"</QueryResult>")
    assert body.count(b"<CdpReplicaTaskSession ") == 3


def test_seed_text_as_printed_is_refused_not_half_read():
    # The doc page's paging links are not well-formed XML: the whole page must fail, not yield 3 items silently.
    with pytest.raises(DecodeError, match="malformed XML"):
        decode_query_page(fixture_bytes("seed_query_result.xml"), XML, PLURAL)


def test_seed_gives_the_three_sessions_with_every_field():
    page, result = records(seed_as_em_sends_it())
    assert result == SEED_RECORDS
    assert page.pages_count == 1


def test_records_leave_links_out_unless_asked():
    page = decode_query_page(seed_as_em_sends_it(), XML, PLURAL)
    lean = [normalise_task_session(item) for item in page.items]
    assert lean == [{key: value for key, value in record.items() if key != "links"} for record in SEED_RECORDS]
    # What the links say is still there.
    assert lean[0]["backup_server_name"] == "backupsrv29.tech.local" and lean[0]["policy_session_name"] == "CDP Policy@2021-06-14 15:00:24"


def test_seed_records_have_exact_types():
    dummy, result = records(seed_as_em_sends_it())
    first = result[0]
    assert isinstance(first["total_size"], int) and not isinstance(first["total_size"], bool)
    assert isinstance(first["duration_seconds"], float)
    assert first["reason"] is None
    assert all(record["creation_time_utc"].endswith("Z") for record in result)


@pytest.mark.parametrize("name", ["seed_query_result_pascal.json", "seed_query_result_camel.json"])
def test_json_fixtures_give_the_same_records_as_xml(name):
    page, result = records(fixture_bytes(name), JSON)
    assert result == SEED_RECORDS
    assert page.pages_count == 1


@pytest.mark.parametrize("name", ["seed_query_result_pascal.json", "seed_query_result_camel.json"])
def test_bom_prefixed_json(name):
    body = b"\xef\xbb\xbf" + fixture_bytes(name)
    assert records(body, JSON)[1] == SEED_RECORDS
    assert records(body, None)[1] == SEED_RECORDS


def test_content_type_parameters_and_sniffing():
    assert records(seed_as_em_sends_it(), "application/xml; charset=utf-8")[1] == SEED_RECORDS
    assert records(seed_as_em_sends_it(), None)[1] == SEED_RECORDS
    assert records(fixture_bytes("seed_query_result_pascal.json"), "application/json; charset=utf-8")[1] == SEED_RECORDS


# -- empty results and optional elements ---------------------------------------------------------


@pytest.mark.parametrize("body", [
    '<QueryResult %s><Entities><CdpReplicaTaskSessions /></Entities><PagingInfo PagesCount="0" PageSize="100" PageNum="1" /></QueryResult>' % NS,
    '<QueryResult %s><Entities /><PagingInfo PagesCount="0" PageSize="100" PageNum="1" /></QueryResult>' % NS,
    '<QueryResult %s><Refs /><PagingInfo PagesCount="0" PageSize="100" PageNum="1"><Links /></PagingInfo></QueryResult>' % NS,
])
def test_empty_xml_results(body):
    page, result = records(body.encode("utf-8"))
    assert result == [] and page.pages_count == 0


@pytest.mark.parametrize("document", [
    {"Refs": None, "Entities": {"CdpReplicaTaskSessions": {"CdpReplicaTaskSessions": None}}, "PagingInfo": {"PagesCount": 0}},
    {"Refs": None, "Entities": {"CdpReplicaSessions": None, "CdpReplicaTaskSessions": None}, "PagingInfo": {"PagesCount": 0}},
    {"Refs": None, "Entities": {"CdpReplicaTaskSessions": {"CdpReplicaTaskSessions": []}}, "PagingInfo": {"PagesCount": 1}},
    {"Entities": {"CdpReplicaTaskSessions": {}}, "PagingInfo": {"PagesCount": 0}},
    {"Entities": {}, "PagingInfo": {"PagesCount": 0}},
    {"Entities": None, "Refs": None, "PagingInfo": {"PagesCount": 0}},
    {"refs": {"refs": None}, "entities": None, "pagingInfo": {"pagesCount": 0}},
    {"entities": {"cdpReplicaTaskSessions": {"cdpReplicaTaskSessions": []}}, "pagingInfo": {"pagesCount": 0}},
])
def test_empty_json_results(document):
    page, result = records(json.dumps(document).encode("utf-8"), JSON)
    assert result == []
    assert page.pages_count in (0, 1)


def test_json_without_paging_info():
    page, result = records(json.dumps({"Entities": {"CdpReplicaTaskSessions": {"CdpReplicaTaskSessions": []}}}).encode(), JSON)
    assert result == [] and page.pages_count is None


def test_json_picks_the_requested_list_not_another():
    item = json.loads(fixture_bytes("seed_query_result_pascal.json"))["Entities"]["CdpReplicaTaskSessions"]["CdpReplicaTaskSessions"][0]
    document = {"Entities": {"CdpReplicaSessions": {"CdpPolicySessions": None}, "CdpReplicaTaskSessions": {"CdpReplicaTaskSessions": [item]}}}
    assert records(json.dumps(document).encode(), JSON)[1] == SEED_RECORDS[:1]


RUNNING = ('<QueryResult %s><Entities><CdpReplicaTaskSessions>'
           '<CdpReplicaTaskSession Type="CdpReplicaTaskSession" Name="vm@2025-06-20 10:00:00" VmDisplayName="vm" UID="urn:veeam:CdpReplicaTaskSession:a1">'
           '<PolicySessionUid>urn:veeam:CdpReplicaSession:p1</PolicySessionUid><CreationTimeUTC>2025-06-20T10:00:00Z</CreationTimeUTC>'
           '<State>InProgress</State><Result>Success</Result><TotalSize>0</TotalSize>%s</CdpReplicaTaskSession>'
           '</CdpReplicaTaskSessions></Entities><PagingInfo PagesCount="1" PageSize="100" PageNum="1" /></QueryResult>')


@pytest.mark.parametrize("extra, reason", [("", None), ("<Reason />", None), ("<Reason>   </Reason>", None), ("<EndTimeUTC />", None),
                                           ("<Reason>Low disk space, retrying</Reason>", "Low disk space, retrying")])
def test_absent_optional_elements(extra, reason):
    dummy, result = records((RUNNING % (NS, extra)).encode("utf-8"))
    record = result[0]
    assert record["end_time_utc"] is None and record["duration_seconds"] is None
    assert record["reason"] == reason
    assert record["creation_time_utc"] == "2025-06-20T10:00:00Z"
    assert record["state"] == "InProgress" and record["total_size"] == 0
    # No links: the link-derived fields are null, not an error.
    assert record["links"] == [] and record["backup_server_uid"] is None and record["policy_session_name"] is None
    assert record["href"] is None


def test_json_nulls_for_optional_fields():
    item = {"uid": "urn:veeam:CdpReplicaTaskSession:a1", "creationTimeUTC": "2025-06-20T10:00:00.1234567Z", "endTimeUTC": None,
            "reason": None, "totalSize": None, "links": None, "state": "Pending", "result": "None"}
    record = normalise_task_session(item, include_links=True)
    assert record["creation_time_utc"] == "2025-06-20T10:00:00.123Z"
    assert record["end_time_utc"] is None and record["total_size"] is None and record["links"] == []
    assert record["result"] == "None" and record["state"] == "Pending"


# -- hostile and broken bodies -------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    '<?xml version="1.0"?><!DOCTYPE QueryResult><QueryResult %s />' % NS,
    '<?xml version="1.0"?><!DOCTYPE QueryResult SYSTEM "http://127.0.0.1:9/evil.dtd"><QueryResult %s />' % NS,
])
@pytest.mark.parametrize("decoder", ["page", "document"])
def test_doctype_and_entities_are_refused(body, decoder):
    with pytest.raises(DecodeError) as info:
        if decoder == "page":
            decode_query_page(body.encode("utf-8"), XML, PLURAL)
        else:
            decode_document(body.encode("utf-8"), XML)
    assert "DOCTYPE" in info.value.message
    assert "root:" not in info.value.message  # no /etc/passwd content


@pytest.mark.parametrize("codec, declared", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16LE"), ("utf-16-be", "UTF-16BE"),
                                             ("utf-32", "UTF-32"), ("cp037", "IBM037")])
def test_doctype_in_other_encodings_is_refused(codec, declared):
    # A byte search for <!DOCTYPE cannot see it in these encodings, so such bodies must go to defusedxml.
    body = ('<?xml version="1.0" encoding="%s"?>' % declared + BILLION_LAUGHS.split("?>", 1)[1]).encode(codec)
    with pytest.raises(DecodeError) as info:
        decode_query_page(body, XML, PLURAL)
    assert "DOCTYPE" in info.value.message or "malformed" in info.value.message


@pytest.mark.parametrize("encoding", ["utf-16", "iso-8859-1", "windows-1252"])
def test_well_formed_pages_in_other_encodings_decode_the_same(encoding):
    text = seed_as_em_sends_it().decode("utf-8").replace("virt03-ubuntu01", "virt03-\u00fcbuntu01")
    body = ('<?xml version="1.0" encoding="%s"?>' % encoding + text).encode(encoding)
    expected = decode_query_page(text.encode("utf-8"), XML, PLURAL).items
    assert decode_query_page(body, XML, PLURAL).items == expected
    assert expected[0]["VmDisplayName"] == "virt03-\u00fcbuntu01"


def test_doctype_after_a_comment_or_declaration_is_refused():
    body = ('<?xml version="1.0" encoding="UTF-8"?><!-- generated --><!DOCTYPE QueryResult [<!ENTITY a "b">]>'
            '<QueryResult %s><Refs>&a;</Refs></QueryResult>' % NS).encode("utf-8")
    with pytest.raises(DecodeError, match="DOCTYPE"):
        decode_query_page(body, XML, PLURAL)


@pytest.mark.parametrize("name, content_type", [("seed_query_result_pascal.json", JSON), ("seed_query_result_camel.json", JSON),
                                                ("cdp_policy_query_result.xml", XML)])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_bodies(name, content_type, fraction):
    body = fixture_bytes(name)
    with pytest.raises(DecodeError):
        decode_query_page(body[:int(len(body) * fraction)], content_type, PLURAL)


def test_truncated_seed_after_items_fails_whole():
    body = seed_as_em_sends_it()
    cut = body.index(b"<PagingInfo")
    with pytest.raises(DecodeError, match="malformed XML"):
        decode_query_page(body[:cut], XML, PLURAL)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/plain", "application/octet-stream"])
def test_wrong_content_type(content_type):
    with pytest.raises(DecodeError) as info:
        decode_query_page(b"<!DOCTYPE html><html><body>Sign in</body></html>", content_type, PLURAL)
    assert "9398" in info.value.message and content_type.split(";")[0] in info.value.message


GARBAGE = bytes(bytearray((index * 97 + 13) % 256 for index in range(512)))


@pytest.mark.parametrize("content_type", [XML, JSON, None])
@pytest.mark.parametrize("body", [GARBAGE, b"", b"   \r\n", b"\xef\xbb\xbf", b"\xff\xfe<\x00Q\x00", b"null", b"[1, 2]", b'"text"', b"<a/>",
                                  b'{"Message": "not a query"}'])
def test_garbage_bodies(content_type, body):
    with pytest.raises(DecodeError):
        decode_query_page(body, content_type, PLURAL)


@pytest.mark.parametrize("pages_count", ["-1", "2147483647", "100000001", "abc", "1.5", ""])
def test_implausible_pages_count_xml(pages_count):
    body = '<QueryResult %s><Refs /><PagingInfo PagesCount="%s" PageSize="100" PageNum="1" /></QueryResult>' % (NS, pages_count)
    with pytest.raises(DecodeError):
        decode_query_page(body.encode("utf-8"), XML, PLURAL)


@pytest.mark.parametrize("pages_count", [-1, 2147483647, "many", [1], {"a": 1}, 1e300])
def test_implausible_pages_count_json(pages_count):
    body = json.dumps({"Refs": {"Refs": []}, "PagingInfo": {"PagesCount": pages_count}}).encode("utf-8")
    with pytest.raises(DecodeError):
        decode_query_page(body, JSON, PLURAL)


@pytest.mark.parametrize("paging", ['PageSize="-5" PageNum="abc"', 'PageSize="1.5" PageNum="2147483647"'])
def test_page_num_and_page_size_are_not_read(paging):
    # Nothing uses them, so an odd value must not fail a query.
    body = '<QueryResult %s><Refs /><PagingInfo PagesCount="1" %s /></QueryResult>' % (NS, paging)
    assert decode_query_page(body.encode("utf-8"), XML, PLURAL) == Page([], 1)


def test_key_access_ignores_case_and_underscores():
    assert key_lookup({"CreationTimeUTC": 1}, "creationtimeutc") == 1
    assert key_lookup({"creationTimeUTC": 2}, "CreationTimeUTC") == 2
    assert key_lookup({"backup_server_uid": 3}, "BackupServerUid") == 3
    assert key_lookup({"BackupServerUid": 4}, "backup_server_uid") == 4
    assert key_lookup({"Name": 5}, "uid") is None
    assert lower_keys({"UID": 1, "PagingInfo": 2}) == {"uid": 1, "paginginfo": 2}


def test_json_items_must_be_objects():
    with pytest.raises(DecodeError):
        decode_query_page(json.dumps({"Refs": {"Refs": [1, 2]}}).encode(), JSON, PLURAL)
    with pytest.raises(DecodeError):
        decode_query_page(json.dumps({"Entities": {"CdpReplicaTaskSessions": "text"}, "PagingInfo": None}).encode(), JSON, PLURAL)


def test_xml_error_document_where_query_result_expected():
    body = '<Error %s Message="Object reference not set" StatusCode="500" />' % NS
    with pytest.raises(DecodeError, match="Error document"):
        decode_query_page(body.encode(), XML, PLURAL)


@pytest.mark.parametrize("body, content_type, expected", [
    ('<Error %s Message="The user name or password is incorrect." StatusCode="401" />' % NS, XML, "The user name or password is incorrect."),
    ('{"FirstChanceExceptionMessage": null, "Message": "Node [root] does not exist.", "StatusCode": 400}', JSON, "Node [root] does not exist."),
    ('{"message": "camel case message", "statusCode": 400}', JSON, "camel case message"),
    ('\xef\xbb\xbf{"Message": "bom"}', JSON, "bom"),
    ("<html>proxy</html>", "text/html", None),
    ("", JSON, None),
    ("<Error", XML, None),
])
def test_error_message_never_raises(body, content_type, expected):
    raw = body.encode("latin-1") if body.startswith("\xef") else body.encode("utf-8")
    assert error_message(raw, content_type) == expected


def test_decode_document_logon_session():
    body = ('<LogonSession %s Type="LogonSession" Href="https://localhost:9398/api/logonSessions/6b5e0c0e"><Links>'
            '<Link Rel="Delete" Type="LogonSession" Href="https://localhost:9398/api/logonSessions/6b5e0c0e" /></Links>'
            '<UserName>EMLAB\\auditor</UserName><SessionId>6b5e0c0e</SessionId></LogonSession>') % NS
    root, raw = decode_document(body.encode(), XML)
    assert root == "LogonSession"
    assert raw["UserName"] == "EMLAB\\auditor" and raw["SessionId"] == "6b5e0c0e"
    assert raw["Links"] == [{"Rel": "Delete", "Type": "LogonSession", "Href": "https://localhost:9398/api/logonSessions/6b5e0c0e"}]


# -- generic normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("CreationTimeUTC", "creation_time_utc"), ("creationTimeUTC", "creation_time_utc"), ("UID", "uid"), ("uid", "uid"),
    ("RPOReporting", "rpo_reporting"), ("RPOThresholdSeconds", "rpo_threshold_seconds"), ("VmDisplayName", "vm_display_name"),
    ("PolicySessionUid", "policy_session_uid"), ("IsRetry", "is_retry"), ("HierarchyObjRef", "hierarchy_obj_ref"),
])
def test_snake_case(name, expected):
    assert snake_case(name) == expected


def test_generic_cdp_policy():
    page = decode_query_page(fixture_bytes("cdp_policy_query_result.xml"), XML, "CdpPolicies")
    assert len(page.items) == 1
    record = normalise_generic(page.items[0])
    assert record["uid"] == "urn:veeam:CdpPolicy:872a3860-3805-43b8-bcf6-388384bfed33"
    assert record["name"] == "CDP Policy" and record["type"] == "CdpPolicy"
    assert record["policy_type"] == "CdpReplica" and record["platform"] == "VMware"
    assert record["description"] == "Created by TECH\\administrator at 6/14/2021 2:58 PM."
    assert record["schedule_configured"] is True and record["schedule_enabled"] is False
    # Empty elements are left out of generic records (JSON would send null): one record either way.
    assert "next_run" not in record
    assert [link["type"] for link in record["links"]] == ["BackupServerReference", "CdpPolicyReference", "CdpReplicaSessionReferenceList"]
    assert record["links"][2] == {"rel": "Down", "type": "CdpReplicaSessionReferenceList", "name": None,
                                  "href": BASE + "/cdpPolicies/872a3860-3805-43b8-bcf6-388384bfed33/cdpReplicaSessions"}
    cdp = record["policy_schedule_options"]["cdp_replica"]
    assert cdp["recovery_point_objective_seconds"] == 15 and cdp["recovery_point_objective_minutes"] == 0
    assert cdp["rpo_reporting"] == {
        "mark_as_warning": {"enabled": True, "rpo_threshold_seconds": 30, "rpo_threshold_minutes": 0},
        "mark_as_failed": {"enabled": True, "rpo_threshold_seconds": 0, "rpo_threshold_minutes": 1},
    }
    # A wrapper holding only repeated <Day> elements becomes the list itself, like EM's JSON array.
    days = cdp["rpo_schedule"]["time_periods"]
    assert isinstance(days, list) and [day["name"] for day in days] == ["Sunday", "Monday"]
    assert days[0]["value"] == ",".join(["1"] * 24)
    # Includes is a sequence in EM's schema: a single ObjectInJob still comes out as a one-item list.
    includes = record["cdp_policy_info"]["cdp_replica_policy_info"]["includes"]
    assert isinstance(includes, list) and len(includes) == 1
    include = includes[0]
    assert include["object_in_job_id"] == "0b1e5b3a-0a9b-4b55-9bd0-6a4b3c2d1e0f"
    assert include["hierarchy_obj_ref"] == "urn:VMware:Vm:45237d2c-c163-4cb1-9f6e-c9913cdea868.vm-1001"
    assert include["display_name"] == "virt03-ubuntu01"


def test_generic_cdp_policy_session():
    page = decode_query_page(fixture_bytes("cdp_policy_session_query_result.xml"), XML, "CdpReplicaSessions")
    record = normalise_generic(page.items[0])
    links = record.pop("links")
    assert record == {
        "type": "CdpReplicaSession",
        "href": BASE + "/cdpReplicaSessions/30a2b685-f858-4f15-9ef6-d3b007a99d2d?format=Entity",
        "name": "CDP Policy@2021-06-15 15:00:08",
        "uid": "urn:veeam:CdpReplicaSession:30a2b685-f858-4f15-9ef6-d3b007a99d2d",
        "policy_uid": "urn:veeam:CdpPolicy:872a3860-3805-43b8-bcf6-388384bfed33",
        "policy_name": "CDP Policy",
        "policy_type": "CdpReplica",
        "creation_time_utc": "2021-06-15T15:00:08.55Z",
        "state": "Working",
        "result": "None",
        "progress": 0,
        "is_retry": False,
    }
    assert "failure_message" not in record  # an empty element, left out like JSON's null
    assert [(link["rel"], link["type"]) for link in links] == [
        ("Up", "BackupServerReference"), ("Up", "CdpPolicyReference"), ("Alternate", "CdpReplicaSessionReference"),
        ("Down", "CdpReplicaTaskSessionReferenceList")]


def test_generic_json_camel_and_pascal_agree():
    pascal = {"UID": "urn:veeam:CdpPolicy:1", "Name": "p", "ScheduleEnabled": True, "Links": [{"Rel": "Up", "Href": "h", "Name": None, "Type": "T"}],
              "PolicyScheduleOptions": {"CdpReplica": {"RPOReporting": {"MarkAsWarning": {"Enabled": True}}}}, "Description": ""}
    camel = {"uid": "urn:veeam:CdpPolicy:1", "name": "p", "scheduleEnabled": True, "links": [{"rel": "Up", "href": "h", "name": None, "type": "T"}],
             "policyScheduleOptions": {"cdpReplica": {"rpoReporting": {"markAsWarning": {"enabled": True}}}}, "description": ""}
    assert normalise_generic(pascal) == normalise_generic(camel) == {
        "uid": "urn:veeam:CdpPolicy:1", "name": "p", "schedule_enabled": True,
        "links": [{"rel": "Up", "href": "h", "name": None, "type": "T"}],
        "policy_schedule_options": {"cdp_replica": {"rpo_reporting": {"mark_as_warning": {"enabled": True}}}}}


def test_generic_records_of_a_task_session_equal_between_xml_and_json():
    xml_items = decode_query_page(seed_as_em_sends_it(), XML, PLURAL).items
    json_items = decode_query_page(fixture_bytes("seed_query_result_camel.json"), JSON, PLURAL).items
    # Reason is absent in XML and null in JSON: generic records leave empty values out, so they agree.
    assert len(xml_items) == len(json_items) == 3
    for xml_item, json_item in zip(xml_items, json_items):
        assert normalise_generic(xml_item) == normalise_generic(json_item)


# -- property-based: only the collection's own errors --------------------------------------------

CONTENT_TYPES = st.sampled_from([XML, JSON, None, "text/xml; charset=utf-8", "application/vnd.veeam+json", "text/html"])


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2048), CONTENT_TYPES)
def test_arbitrary_bytes_raise_only_em_errors(body, content_type):
    for decode in (lambda: decode_query_page(body, content_type, PLURAL), lambda: decode_document(body, content_type)):
        try:
            decode()
        except EmError:
            pass
    assert error_message(body, content_type) is None or isinstance(error_message(body, content_type), str)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["Entities", "entities", "Refs", "PagingInfo", "pagingInfo", "PagesCount", "pagescount", "PageNum", "PageSize",
                         "CdpReplicaTaskSessions", "UID", "Links", "Message"]) | st.text(max_size=8), children, max_size=5),
    max_leaves=15)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.sampled_from([JSON, None]), st.booleans())
def test_arbitrary_json_documents_raise_only_em_errors(document, content_type, bom):
    body = (b"\xef\xbb\xbf" if bom else b"") + json.dumps(document).encode("utf-8")
    for decode in (lambda: decode_query_page(body, content_type, PLURAL), lambda: decode_document(body, content_type)):
        try:
            result = decode()
        except EmError:
            continue
        if isinstance(result, tuple):
            assert isinstance(result[1], dict)
        else:
            assert isinstance(result.items, list)
            for item in result.items:
                try:
                    normalise_task_session(item)
                except EmError:
                    pass
                normalise_generic(item)


@pytest.mark.parametrize("item", [
    {"UID": "u", "CreationTimeUTC": "yesterday"},
    {"UID": "u", "CreationTimeUTC": "2021-13-01T00:00:00Z"},
    {"UID": "u", "CreationTimeUTC": "2021-06-15T00:00:00Z", "EndTimeUTC": "9999-12-31T23:59:59-01:00"},
    {"UID": "u", "CreationTimeUTC": 5},
])
def test_bad_timestamps_in_items_are_decode_errors(item):
    with pytest.raises(DecodeError, match="not ISO 8601"):
        normalise_task_session(item)


@pytest.mark.parametrize("created, ended, created_text, ended_text, duration", [
    # EM's usual millisecond form is kept as it is.
    ("2021-06-15T07:00:06.787Z", "2021-06-15T15:00:08.847Z", "2021-06-15T07:00:06.787Z", "2021-06-15T15:00:08.847Z", 28802.06),
    # All-zero milliseconds and shorter or longer fractions are normalised to the one text form.
    ("2021-06-15T07:00:06.000Z", "2021-06-15T07:00:07.5Z", "2021-06-15T07:00:06Z", "2021-06-15T07:00:07.500Z", 1.5),
    ("2021-06-15T07:00:06.1234567Z", "2021-06-15T07:00:06.2Z", "2021-06-15T07:00:06.123Z", "2021-06-15T07:00:06.200Z", 0.077),
    # Offsets go through the general parser; durations mix both paths correctly.
    ("2021-06-15T09:00:06.787+02:00", "2021-06-15T07:00:16.787Z", "2021-06-15T07:00:06.787Z", "2021-06-15T07:00:16.787Z", 10.0),
    ("2021-06-15T07:00:06.787Z", "2021-06-15T03:00:16-04:00", "2021-06-15T07:00:06.787Z", "2021-06-15T07:00:16Z", 9.213),
    ("2021-06-15", None, "2021-06-15T00:00:00Z", None, None),
])
def test_task_session_times(created, ended, created_text, ended_text, duration):
    record = normalise_task_session({"UID": "u", "CreationTimeUTC": created, "EndTimeUTC": ended})
    assert (record["creation_time_utc"], record["end_time_utc"], record["duration_seconds"]) == (created_text, ended_text, duration)


@pytest.mark.parametrize("value", ["2021-02-30T07:00:06.787Z", "2021-06-15T25:00:06.787Z", "2021-06-15T07:00:06.78xZ"])
def test_impossible_millisecond_times_are_decode_errors(value):
    with pytest.raises(DecodeError, match="not ISO 8601"):
        normalise_task_session({"UID": "u", "CreationTimeUTC": value})


@pytest.mark.parametrize("links", [5, "text", [{"Rel": "Up", "Type": "BackupServerReference", "Href": 5}], [None, 3]])
def test_odd_links_do_not_crash(links):
    record = normalise_task_session({"UID": "u", "Links": links})
    assert record["backup_server_uid"] is None


XML_PARTS = st.sampled_from([
    "<QueryResult %s>" % NS, "</QueryResult>", "<Entities>", "</Entities>", "<Refs>", "</Refs>", "<CdpReplicaTaskSessions>",
    "</CdpReplicaTaskSessions>", '<CdpReplicaTaskSession UID="u1" Name="n">', "</CdpReplicaTaskSession>", "<Ref UID='r'/>",
    '<PagingInfo PagesCount="2" PageSize="1" PageNum="1">', "</PagingInfo>", '<PagingInfo PagesCount="-3"/>', "<Links>", "</Links>",
    '<Link Rel="Up" Href="h"/>', "<CreationTimeUTC>2021-06-15T07:00:06.787Z</CreationTimeUTC>", "<CreationTimeUTC>bad</CreationTimeUTC>",
    "<EndTimeUTC>2021-13-01</EndTimeUTC>", "<TotalSize>12</TotalSize>", "<TotalSize>x</TotalSize>", "<State>InProgress</State>", "text",
    "&amp;", "&bogus;", "<!DOCTYPE x>", "<?xml version='1.0'?>", "<![CDATA[c]]>", "<!-- c -->",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(XML_PARTS, max_size=25), st.sampled_from([XML, None]))
def test_arbitrary_xml_fragments_raise_only_em_errors(parts, content_type):
    body = "".join(parts).encode("utf-8")
    try:
        page = decode_query_page(body, content_type, PLURAL)
    except EmError:
        return
    assert isinstance(page, Page) and isinstance(page.items, list)
    for item in page.items:
        try:
            normalise_task_session(item)
        except EmError:
            pass
        normalise_generic(item)


@pytest.mark.parametrize("record", [
    {"Links": [{"Rel": "Up", "Type": "BackupServerReference", "Href": "https://em:9398/api/backupServers/beda8585?format=Entity",
                "Name": "backupsrv29"}]},
    {"links": [{"rel": "Down", "type": "CdpPolicyReference", "href": "x", "name": "p"},
               {"rel": "Up", "type": "BackupServerReference", "href": "https://em:9398/api/backupServers/beda8585/", "name": "backupsrv29"}]},
    {"links": [{"type": "backupserverreference", "href": "https://em:9398/api/backupServers/beda8585"}], "backup_server_name": "other"},
    {"links": [], "backup_server_uid": "urn:veeam:BackupServer:beda8585", "backup_server_name": "backupsrv29"},
    {"BackupServerUid": "urn:veeam:BackupServer:beda8585", "BackupServerName": "backupsrv29"},
])
def test_backup_server_from_links(record):
    uid, name = backup_server_from_links(record)
    assert uid == "urn:veeam:BackupServer:beda8585"
    assert name == (None if "backup_server_name" in record and record["links"] else "backupsrv29")


@pytest.mark.parametrize("record", [None, "text", {}, {"links": "nonsense"}, {"Links": [{"Rel": "Up", "Type": "BackupServerReference"}]}])
def test_backup_server_from_links_without_one(record):
    assert backup_server_from_links(record) == (None, None)


def test_task_session_backup_server_uid_comes_from_the_same_helper():
    raw = {"UID": "u", "Links": [{"Rel": "Up", "Type": "BackupServerReference", "Href": "https://em/api/backupServers/g1", "Name": "s"}]}
    assert normalise_task_session(raw)["backup_server_uid"] == backup_server_urn("https://em/api/backupServers/g1") == "urn:veeam:BackupServer:g1"
    assert backup_server_urn("") is None and backup_server_urn(None) is None


@pytest.mark.parametrize("links, expected", [
    ([{"rel": "Up", "type": "BackupServerReference", "href": "https://em:9398/api/backupServers/b1?x=1", "name": "srv"}],
     ("urn:veeam:BackupServer:b1", "srv")),
    ("nonsense", (None, None)),
    ([None, {"rel": "Down", "type": "BackupServerReference", "href": "h"}], (None, None)),
])
def test_backup_server_from_policy_links(links, expected):
    """The compliance engine reads a policy's backup server through the same helper."""
    assert backup_server_from_links({"links": links}) == expected
