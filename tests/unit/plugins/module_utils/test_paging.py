# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""paging.py against the TLS simulator: page order with and without workers, truncation, stable paging,
records without UIDs, the query string, and gc_paused."""

from __future__ import annotations

import gc
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import ApiError, IncompleteResultError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.paging import (
    MAX_UID_PREFIXES,
    QueryIterator,
    QuerySpec,
    gc_paused,
    query_params,
    record_identity,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, prepare_generic_query, run_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import record_uid
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_client import (
    PAGE,
    assert_no_open_session,
    client_for,
    fetch,
    uids,
)

# Two task sessions without any UID key, in one page that says it is complete, and one that says a third is missing.
NO_UID_PAGE = ('<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><CdpReplicaTaskSessions>'
               '<CdpReplicaTaskSession Name="a" VmDisplayName="vm"><CreationTimeUTC>2025-06-20T10:00:00Z</CreationTimeUTC>'
               '<State>Completed</State></CdpReplicaTaskSession>'
               '<CdpReplicaTaskSession Name="b" VmDisplayName="vm"><CreationTimeUTC>2025-06-20T10:00:00Z</CreationTimeUTC>'
               '<State>Completed</State></CdpReplicaTaskSession>'
               '</CdpReplicaTaskSessions></Entities><PagingInfo PagesCount="%d" PageSize="5" PageNum="1" /></QueryResult>')

GUID = "0b1e4c02-6a4f-4e8b-9b1a-3f2d5c6e7a8b"
TASK = "urn:veeam:CdpReplicaTaskSession:"
# One UID twice, and the same GUID in capitals and in braces: EM's UIDs are compared as text, so three records.
UID_PAGE = ('<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><CdpReplicaTaskSessions>' + "".join(
    '<CdpReplicaTaskSession UID="%s" Name="%s" VmDisplayName="vm"><CreationTimeUTC>2025-06-20T10:00:00Z</CreationTimeUTC>'
    '<State>Completed</State></CdpReplicaTaskSession>' % (uid, name) for name, uid in (
        ("a", TASK + GUID), ("a again", TASK + GUID), ("capitals", TASK + GUID.upper()), ("braces", TASK + "{%s}" % GUID))) +
    '</CdpReplicaTaskSessions></Entities><PagingInfo PagesCount="1" PageSize="5" PageNum="1" /></QueryResult>')


@pytest.fixture
def baseline(em_sim):
    result, dummy = fetch(em_sim, {"response_format": "xml"})
    em_sim.requests.clear()
    assert result["count"] == em_sim.state()["records"]["CdpReplicaTaskSession"] > 5 * PAGE
    return result


@pytest.fixture
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


# -- paging --------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [2, 5, 1000])
def test_workers_1_and_4_give_identical_ordered_results(em_sim, baseline, page_size):
    one, dummy = fetch(em_sim, {"page_size": page_size}, workers=1)
    four, dummy = fetch(em_sim, {"page_size": page_size}, workers=4)
    assert one["sessions"] == four["sessions"] == baseline["sessions"]
    expected_pages = -(-baseline["count"] // page_size)  # one request per page, no probe
    assert one["pages"] == four["pages"] == expected_pages
    assert one["total"] == four["total"] == baseline["count"]


def test_descending_order_with_workers(em_sim, baseline):
    result, dummy = fetch(em_sim, {"sort_order": "desc"}, workers=4)
    assert uids(result) == list(reversed(uids(baseline)))


def test_paging_requests_carry_sort_page_size_and_pin(em_sim, baseline):
    fetch(em_sim)
    queries = em_sim.query_requests()
    first, pages = queries[0], queries[1:]
    # The first request is a whole page, newest first and unpinned: it gives the pin and the last page's records.
    assert "pageSize=%d&page=1" % PAGE in first["query"] and "sortDesc=CreationTimeUTC" in first["query"]
    assert "CreationTimeUTC%3C%3D%22" not in first["query"]
    assert all("sortAsc=CreationTimeUTC" in request["query"] and "pageSize=%d" % PAGE in request["query"] for request in pages)
    assert all("CreationTimeUTC%3C%3D%22" in request["query"] for request in pages)
    assert sorted(int(request["query"].rsplit("page=", 1)[1]) for request in pages) == list(range(1, len(pages) + 1))
    assert len(queries) == -(-baseline["count"] // PAGE)


def test_max_records_truncates(em_sim, baseline):
    result, dummy = fetch(em_sim, {"max_records": 5}, workers=4)
    assert result["count"] == 5 and result["truncated"] is True
    assert result["sessions"] == baseline["sessions"][:5]
    result, dummy = fetch(em_sim, {"max_records": baseline["count"]})
    assert result["count"] == baseline["count"] and result["truncated"] is False
    assert_no_open_session(em_sim)


def test_empty_result_costs_one_request(em_sim):
    result, stats = fetch(em_sim, {"vm_display_name": "no such vm"})
    assert result["sessions"] == [] and result["count"] == 0 and result["total"] == 0
    assert stats["query_requests"] == 1


def test_generic_query_through_the_client(em_sim):
    with client_for(em_sim, workers=4) as client:
        result = run_query(client, prepare_generic_query({"type": "CdpReplicaSession", "page_size": 5, "sort_by": "CreationTimeUTC",
                                                          "filters": {"State": ["Working", "Stopped"]}}))
    assert result["count"] == result["total"] > 5
    assert {record["state"] for record in result["records"]} <= {"Working", "Stopped"}
    assert len({record["uid"] for record in result["records"]}) == result["count"]


# -- stable paging -------------------------------------------------------------------------------


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("workers", [1, 4])
def test_insertions_between_pages_lose_and_duplicate_nothing(em_sim, baseline, sort_order, workers):
    expected = uids(baseline) if sort_order == "asc" else list(reversed(uids(baseline)))
    em_sim.configure(insert_between_pages=3)
    result, dummy = fetch(em_sim, {"sort_order": sort_order}, workers=workers)
    assert em_sim.state()["inserted_tasks"] >= 3 * len(em_sim.query_requests())
    assert uids(result) == expected
    assert_no_open_session(em_sim)


def test_repeated_page_once_is_repaired(em_sim, baseline):
    em_sim.faults({"on": "query", "page": 3, "action": "repeat_previous_page"})
    result, dummy = fetch(em_sim)
    assert result["sessions"] == baseline["sessions"]
    assert len(set(uids(result))) == result["count"]


def test_repeated_page_forever_is_an_incomplete_result(em_sim, baseline):
    em_sim.faults({"on": "query", "page": 3, "action": "repeat_previous_page", "times": -1})
    with pytest.raises(IncompleteResultError) as info:
        fetch(em_sim, retries=2)
    assert info.value.details["expected"] == -(-baseline["count"] // PAGE)  # the pages EM announced first
    assert info.value.details["received"] == baseline["count"] - PAGE
    assert "page 3 held only records of earlier pages" in info.value.message and "after 3 passes" in info.value.message
    assert_no_open_session(em_sim)


def _serve_for_every_query(sim, body):
    sim.faults({"on": "query", "action": "body", "status": 200, "body": body, "content_type": "application/xml", "times": -1})


def test_records_without_uid_are_counted_once(em_sim):
    _serve_for_every_query(em_sim, NO_UID_PAGE % 2)
    result, dummy = fetch(em_sim)
    assert result["count"] == result["total"] == 2
    assert [record["uid"] for record in result["sessions"]] == [None, None]
    assert_no_open_session(em_sim)


def test_records_without_uid_are_not_repeated_by_another_pass(em_sim):
    # Records without UIDs are told apart by their content: EM announcing 3 pages and repeating 2 records fails, bounded.
    _serve_for_every_query(em_sim, NO_UID_PAGE % 3)
    with pytest.raises(IncompleteResultError) as info:
        fetch(em_sim, retries=3)
    assert info.value.details["received"] == 2 and info.value.details["expected"] == 3
    # The first answer, then 4 passes of the 2 pages before the last.
    assert len(em_sim.query_requests()) == 1 + 4 * 2
    assert_no_open_session(em_sim)


def test_a_uid_dedupes_as_text_whatever_its_form(em_sim):
    _serve_for_every_query(em_sim, UID_PAGE)
    result, dummy = fetch(em_sim)
    names = [record["name"] for record in result["sessions"]]
    assert len(names) == 3 and {"capitals", "braces"} < set(names) and len({"a", "a again"} & set(names)) == 1
    assert result["count"] == result["total"] == 3


def test_uids_ending_in_a_lower_case_guid_are_ints():
    prefixes = {}
    identity = record_identity({"UID": TASK + GUID}, prefixes)
    assert identity == uuid.UUID(GUID).int and prefixes == {TASK: 0}
    assert record_identity({"uid": "urn:veeam:CdpReplicaSession:" + GUID}, prefixes) == 1 << 128 | uuid.UUID(GUID).int
    for text in (TASK + GUID.upper(), TASK + "{%s}" % GUID, TASK + GUID.replace("-", ""), TASK + GUID + " ", "x" + GUID[1:]):
        assert record_identity({"UID": text}, prefixes) == text
    assert record_identity({"UID": 5}, prefixes) == (5,)
    assert record_identity({"Name": "no uid"}, prefixes) == json.dumps({"Name": "no uid"})


def test_uid_prefixes_beyond_the_limit_stay_text():
    prefixes = {}
    for number in range(MAX_UID_PREFIXES + 3):
        uid = "urn:veeam:Type%d:%s" % (number, GUID)
        identity = record_identity({"UID": uid}, prefixes)
        assert identity == (number << 128 | uuid.UUID(GUID).int if number < MAX_UID_PREFIXES else uid)
    assert len(prefixes) == MAX_UID_PREFIXES


def _text_identity(raw):
    """The identity as it was before UIDs became ints: the UID itself, or the item's content."""
    uid = record_uid(raw)
    return uid if uid is not None else json.dumps(raw, sort_keys=True, default=str)


GUIDS = st.sampled_from([GUID, GUID.upper(), "{%s}" % GUID, GUID[:-1] + "c", "00000000-0000-0000-0000-000000000005", "+0000000-0000-0000-0000-000000000005"])
UIDS = st.one_of(
    st.builds(lambda prefix, guid: prefix + guid, st.sampled_from(["", TASK, "urn:veeam:CdpReplicaSession:", "x:"]), GUIDS),
    st.integers(min_value=0, max_value=2 ** 130), st.sampled_from([5, 5.0, True, 1, "5", None, ""]), st.text(max_size=40))


@settings(max_examples=500, deadline=None)
@given(st.lists(UIDS, min_size=2, max_size=8))
def test_identities_are_equal_exactly_when_the_uids_are(values):
    prefixes = {}
    items = [{"UID": value, "Name": str(index % 2)} for index, value in enumerate(values)]
    for first in items:
        for second in items:
            same_before = _text_identity(first) == _text_identity(second)
            assert (record_identity(first, prefixes) == record_identity(second, prefixes)) == same_before


def test_iterator_reports_total_pin_and_passes(em_sim, baseline):
    spec = prepare_cdp_query({"page_size": PAGE}).spec
    with client_for(em_sim) as client:
        iterator = QueryIterator(client, spec)
        records = list(iterator)
    assert [record["uid"] for record in records] == uids(baseline)
    assert iterator.total == baseline["count"] and iterator.passes == 1
    assert iterator.announced_pages == -(-baseline["count"] // PAGE)
    assert iterator.pin == max(record["creation_time_utc"] for record in records)


def test_closing_the_iterator_early_stops_paging(em_sim):
    spec = prepare_cdp_query({"page_size": PAGE}).spec
    with client_for(em_sim, workers=4) as client:
        iterator = QueryIterator(client, spec)
        first = next(iterator)
        iterator.close()
        assert first["uid"]
        with pytest.raises(StopIteration):
            next(iterator)
    assert_no_open_session(em_sim)


def test_query_params_encode_the_filter_once():
    spec = QuerySpec("CdpReplicaTaskSession", sort_field="CreationTimeUTC", sort_desc=True)
    params = query_params(spec, 'VmDisplayName=="a+b c"', 2, 50)
    assert params == ("type=CdpReplicaTaskSession&format=Entities&filter=VmDisplayName%3D%3D%22a%2Bb%20c%22"
                      "&sortDesc=CreationTimeUTC&pageSize=50&page=2")
    assert query_params(spec, "", 1, 1, sort_desc=False, entity_format="References") == (
        "type=CdpReplicaTaskSession&format=References&sortAsc=CreationTimeUTC&pageSize=1&page=1")
    assert QuerySpec("CdpPolicy", None).filter_expression == ""


# -- gc_paused ------------------------------------------------------------------------------------


def test_paused_inside_and_restored_after(collector_enabled):
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_when_the_block_raises(collector_enabled):
    with pytest.raises(RuntimeError):
        with gc_paused():
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled(collector_enabled):
    gc.disable()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_run_query_leaves_the_collector_running(em_sim, collector_enabled):
    result, dummy = fetch(em_sim)
    assert result["count"] > PAGE and gc.isenabled()
    em_sim.faults({"on": "query", "page": 2, "action": "status", "status": 400})
    with pytest.raises(ApiError):
        fetch(em_sim)
    assert gc.isenabled()
    assert_no_open_session(em_sim)
