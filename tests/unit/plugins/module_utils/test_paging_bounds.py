# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What paging trusts and where it stops (issue 16 item 1, issue 17 item 2): empty results in every shape EM may send,
one request for one page, short/long/moving pages, the review's endless and stuck servers, query_timeout, and
generated page sequences (Hypothesis) against a fake client, bounded in requests and time."""

from __future__ import annotations

import time
import types
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import DecodeError, IncompleteResultError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import ConnectionConfig
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.paging import QueryIterator, growth_cap
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, prepare_generic_query, run_query
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.server import Response
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_client import assert_no_open_session, client_for

XML = "application/xml"
JSON = "application/json"
NS = "http://www.veeam.com/ent/v1.0"


def task_xml(number):
    return ('<CdpReplicaTaskSession Type="CdpReplicaTaskSession" UID="urn:veeam:CdpReplicaTaskSession:%08d" Name="vm%d@x" '
            'VmDisplayName="vm%d"><CreationTimeUTC>2025-06-20T%02d:%02d:%02dZ</CreationTimeUTC><State>Completed</State>'
            '</CdpReplicaTaskSession>' % (number, number % 7, number % 7, number // 3600 % 24, number // 60 % 60, number % 60))


def page_xml(numbers, pages_count=None, page=1, page_size=5):
    paging = '' if pages_count is None else '<PagingInfo PagesCount="%d" PageSize="%d" PageNum="%d" />' % (pages_count, page_size, page)
    return ('<QueryResult xmlns="%s"><Entities><CdpReplicaTaskSessions>%s</CdpReplicaTaskSessions></Entities>%s</QueryResult>'
            % (NS, "".join(task_xml(number) for number in numbers), paging))


# Every empty-result shape: EM documents none, these are the ones seen or allowed by its schema and JSON serialiser.
EMPTY_SHAPES = {
    "xml_pages_count_0": ('<QueryResult xmlns="%s"><Entities><CdpReplicaTaskSessions /></Entities>'
                          '<PagingInfo PagesCount="0" PageSize="5" PageNum="1" /></QueryResult>' % NS, XML),
    "xml_pages_count_1_no_items": ('<QueryResult xmlns="%s"><Entities><CdpReplicaTaskSessions /></Entities>'
                                   '<PagingInfo PagesCount="1" PageSize="5" PageNum="1"><Links><Link Rel="First" Href="x" />'
                                   '<Link Rel="Last" Href="x" /></Links></PagingInfo></QueryResult>' % NS, XML),
    "xml_entities_absent": ('<QueryResult xmlns="%s"><PagingInfo PagesCount="1" PageSize="5" PageNum="1" /></QueryResult>' % NS, XML),
    "xml_entities_empty": ('<QueryResult xmlns="%s"><Entities /><PagingInfo PagesCount="1" PageSize="5" PageNum="1" /></QueryResult>' % NS, XML),
    "xml_no_paging_info": ('<QueryResult xmlns="%s"><Entities><CdpReplicaTaskSessions /></Entities></QueryResult>' % NS, XML),
    "json_list_null": ('{"Refs": null, "Entities": {"CdpReplicaTaskSessions": {"CdpReplicaTaskSessions": null}}, "Resources": null, '
                       '"Links": null, "PagingInfo": {"Links": [], "PageNum": 1, "PageSize": 5, "PagesCount": 1}}', JSON),
    "json_list_empty": ('{"Entities": {"CdpReplicaTaskSessions": {"CdpReplicaTaskSessions": []}}, '
                        '"PagingInfo": {"PageNum": 1, "PageSize": 5, "PagesCount": 1}}', JSON),
    "json_entities_null": ('{"Refs": null, "Entities": null, "PagingInfo": {"PageNum": 1, "PageSize": 5, "PagesCount": 0}}', JSON),
    "json_wrapper_null": ('{"Entities": {"BackupJobSessions": null, "CdpReplicaTaskSessions": null}, '
                          '"PagingInfo": {"PageNum": 1, "PageSize": 5, "PagesCount": 1}}', JSON),
    "json_camel_no_paging_info": ('{"refs": null, "entities": {"cdpReplicaTaskSessions": {"cdpReplicaTaskSessions": []}}}', JSON),
}


def script(sim, answer):
    """Answer every /api/query of the simulator with answer(page, page_size, params) -> (body, content type); logon stays real."""
    inner = sim.server.sim.handle

    def handle(req):
        if req.path != "/api/query":
            return inner(req)
        inner(req)  # recorded and authenticated as usual; its answer is replaced
        params = dict(parse_qsl(req.query))
        body, content_type = answer(int(params.get("page", 1)), int(params.get("pageSize", 100)), params)
        return Response(200, body.encode("utf-8"), content_type)

    sim.server.sim.handle = handle


def query(sim, params=None, **overrides):
    with client_for(sim, **overrides) as client:
        return run_query(client, prepare_cdp_query(dict({"page_size": 5}, **(params or {}))))


# -- empty results -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", sorted(EMPTY_SHAPES))
def test_every_empty_shape_is_an_empty_result_in_one_request(em_sim, shape):
    body, content_type = EMPTY_SHAPES[shape]
    script(em_sim, lambda page, size, params: (body, content_type))
    result = query(em_sim, {"response_format": "json" if content_type == JSON else "xml"}, retries=3)
    assert result["sessions"] == [] and result["count"] == 0 and result["total"] == 0 and result["truncated"] is False
    assert result["pages"] == 1 and len(em_sim.query_requests()) == 1
    assert_no_open_session(em_sim)


@pytest.mark.parametrize("empty_pages_count", [0, 1])
def test_simulator_empty_results_through_query_info(em_sim, empty_pages_count):
    em_sim.configure(empty_pages_count=empty_pages_count)
    with client_for(em_sim) as client:
        result = run_query(client, prepare_generic_query({"type": "CdpReplicaSession", "filters": {"Name": "no such session"}}))
    assert result["records"] == [] and result["total"] == 0 and result["pages"] == 1


# -- one request per page; what the pages say ----------------------------------------------------


def test_a_one_page_result_costs_one_request_in_every_order(em_sim):
    for params in ({}, {"sort_order": "desc"}, {"sort_by": "VmDisplayName"}, {"sort_by": "VmDisplayName", "sort_order": "desc"}):
        em_sim.requests.clear()
        result = query(em_sim, dict(params, page_size=1000))
        assert result["pages"] == 1 and result["count"] == result["total"] > 5, params
    # The one page came newest first; the requested order is restored on the controller.
    names = [record["vm_display_name"] for record in result["sessions"]]
    assert names == sorted(names, reverse=True)


def test_a_last_page_longer_than_a_page_is_taken_whole(em_sim):
    # EM announces 2 pages of 5, then sends 7 records on the last one: nothing is dropped.
    def answer(page, size, params):
        return page_xml(range(12, 7, -1) if page == 1 else range(7, 0, -1), 2, page), XML
    script(em_sim, answer)
    result = query(em_sim, {"sort_order": "desc"})
    assert [int(record["uid"][-8:]) for record in result["sessions"]] == list(range(12, 0, -1))
    assert result["total"] == 12 and result["pages"] == 2


def test_a_page_count_that_changes_between_pages_is_read_again(em_sim):
    # Pass 1: page 2 says 2 pages where page 1 said 3 (records deleted meanwhile); pass 2 agrees and completes.
    calls = {"count": 0}

    def answer(page, size, params):
        calls["count"] += 1
        if "sortDesc" in params:
            return page_xml(range(13, 8, -1), 3), XML
        if calls["count"] == 3:
            return page_xml(range(6, 11), 2, page), XML
        return page_xml(range(1 + 5 * (page - 1), 6 + 5 * (page - 1)), 3, page), XML
    script(em_sim, answer)
    result = query(em_sim)
    assert sorted(int(record["uid"][-8:]) for record in result["sessions"]) == list(range(1, 14))
    assert len(em_sim.query_requests()) == 1 + 2 + 2


# -- the review's endless and stuck servers (F4) --------------------------------------------------


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_endless_server_is_stopped_at_the_growth_cap(em_sim, order):
    # Every page N announces N + 2 pages and brings new records (the review's "growing total").
    def answer(page, size, params):
        return page_xml(range(page * 100, page * 100 + 5), page + 2, page), XML
    script(em_sim, answer)
    started = time.monotonic()
    with pytest.raises(IncompleteResultError) as info:
        query(em_sim, {"sort_order": order})
    assert "announced 3 pages in its first answer, then kept announcing more" in info.value.message
    assert len(em_sim.query_requests()) <= growth_cap(3) + 1 and time.monotonic() - started < 30
    assert_no_open_session(em_sim)


def test_stuck_server_without_paging_info_stops_when_nothing_new_comes(em_sim):
    # Every page is the same full page, without PagingInfo.
    script(em_sim, lambda page, size, params: (page_xml(range(1, 6)), XML))
    with pytest.raises(IncompleteResultError) as info:
        query(em_sim, retries=2)
    assert "held only records of earlier pages" in info.value.message
    # The first answer, then per pass page 1 and the repeat that stops it.
    assert len(em_sim.query_requests()) == 1 + 3 * 2
    assert_no_open_session(em_sim)


def test_full_pages_without_paging_info_are_capped(em_sim, monkeypatch):
    monkeypatch.setattr("ansible_collections.veeam.enterprise_manager.plugins.module_utils.paging.MAX_UNANNOUNCED_PAGES", 6)
    script(em_sim, lambda page, size, params: (page_xml(range(page * 100, page * 100 + 5)), XML))
    with pytest.raises(IncompleteResultError) as info:
        query(em_sim)
    assert "EM sent no PagingInfo and full pages kept coming" in info.value.message
    assert len(em_sim.query_requests()) == 1 + 6


# -- query_timeout --------------------------------------------------------------------------------


def test_query_timeout_ends_a_slow_query_without_a_partial_result(em_sim):
    em_sim.configure(page_delay_ms=400)
    with client_for(em_sim) as client:
        client.config.query_timeout = 1
        started = time.monotonic()
        with pytest.raises(IncompleteResultError) as info:
            run_query(client, prepare_cdp_query({"page_size": 2}))
    assert "did not finish within query_timeout (1 s)" in info.value.message and "No partial result" in info.value.message
    assert time.monotonic() - started < 3
    assert_no_open_session(em_sim)


# -- generated page sequences ----------------------------------------------------------------------


class FakeClient:
    """Just what paging uses of EmClient, answering from a list of pages (the last one repeats)."""

    def __init__(self, pages, retries=2):
        self.config = ConnectionConfig(host="em", retries=retries, workers=1, query_timeout=20)
        self.stats = {"query_requests": 0}
        self.pages = pages
        self.served = set()

    def log(self, message):
        pass

    def get(self, path, params, page=None, accept=None):
        numbers, pages_count = self.pages[min(page, len(self.pages)) - 1]
        self.served.update(numbers)
        body = page_xml(numbers, pages_count, page).encode("utf-8")
        return types.SimpleNamespace(content=body, headers={"Content-Type": XML})

    def check(self, response, path, page):
        return response


PAGE_SEQUENCES = st.lists(st.tuples(st.lists(st.integers(1, 40), max_size=7), st.one_of(st.none(), st.integers(0, 12))),
                          min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(PAGE_SEQUENCES, st.sampled_from(["asc", "desc"]))
def test_any_page_sequence_ends_bounded_with_unique_served_records_or_a_clear_error(pages, order):
    client = FakeClient(pages)
    spec = prepare_cdp_query({"page_size": 5, "sort_order": order}).spec
    started = time.monotonic()
    try:
        records = list(QueryIterator(client, spec))
    except (IncompleteResultError, DecodeError) as exc:
        assert exc.message
    else:
        numbers = [int(record["uid"][-8:]) for record in records]
        assert len(numbers) == len(set(numbers)) and set(numbers) <= client.served
    announced = max([count for dummy, count in pages if count is not None] + [1])
    # The first answer, then at most (retries + 1) passes of the capped page range.
    assert client.stats["query_requests"] <= 1 + 3 * growth_cap(announced + 12)
    assert time.monotonic() - started < 5
