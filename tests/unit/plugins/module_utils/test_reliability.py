# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reliability gaps test_client.py leaves open: backoff bounds, read timeouts, logon retry rules,
every hostile-response fault of the simulator through the whole client, results that come back
empty after the first answer, and logoff after an unexpected exception. See docs/reliability.md."""

from __future__ import annotations

import json

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import client as client_module
from ansible_collections.veeam.enterprise_manager.plugins.module_utils import query as query_module
from ansible_collections.veeam.enterprise_manager.plugins.module_utils import retries as retries_module
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import (
    ApiError,
    CommunicationError,
    DecodeError,
    IncompleteResultError,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, run_query
from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_replica_task_session_info
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD, USER
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import ENV_NAMES, run_main

PAGE = 5
EMPTY_PAGE = ('<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><CdpReplicaTaskSessions /></Entities>'
              '<PagingInfo PagesCount="0" PageSize="%d" PageNum="1" /></QueryResult>')


def fetch(sim, params=None, timeout=None, backoff_base=0, **overrides):
    query = {"page_size": PAGE}
    query.update(params or {})
    with EmClient(sim.config(**overrides), backoff_base=backoff_base) as client:
        if timeout is not None:
            # Below the option's 1 s minimum, to keep the suite fast.
            client.config.timeout = timeout
        result = run_query(client, prepare_cdp_query(query))
        stats = dict(client.stats)
    return result, stats


def requests_of(sim, kind):
    return sim.state()["requests"].get(kind, 0)


@pytest.fixture
def baseline(em_sim):
    result, dummy = fetch(em_sim)
    assert result["count"] == result["total"] > 3 * PAGE
    return result["sessions"]


def assert_no_open_session(sim):
    assert sim.state()["open_sessions"] == 0


# -- backoff -------------------------------------------------------------------------------------


@pytest.mark.parametrize("jitter", [0.5, 1.0])
def test_backoff_is_exponential_capped_and_jittered(em_sim, monkeypatch, jitter):
    sleeps = []
    jitter_ranges = set()

    def uniform(low, high):
        jitter_ranges.add((low, high))
        return jitter

    monkeypatch.setattr(client_module.time, "sleep", sleeps.append)
    monkeypatch.setattr(retries_module.random, "uniform", uniform)
    em_sim.faults({"on": "query", "page": 2, "action": "status", "status": 503, "times": -1})
    with pytest.raises(CommunicationError):
        fetch(em_sim, backoff_base=0.5, retries=6)
    assert sleeps == [min(retries_module.BACKOFF_CAP, 0.5 * 2 ** attempt) * jitter for attempt in range(6)]
    assert max(sleeps) <= retries_module.BACKOFF_CAP and jitter_ranges == {(0.5, 1.0)}
    assert_no_open_session(em_sim)


def test_retries_zero_sends_each_request_once(em_sim):
    em_sim.faults({"on": "query", "page": 2, "action": "status", "status": 502, "times": 1})
    with pytest.raises(CommunicationError) as info:
        fetch(em_sim, retries=0)
    assert "(page 2)" in info.value.message and "after" not in info.value.message
    assert em_sim.state()["faults_fired"] == 1
    assert_no_open_session(em_sim)


def test_exhausted_page_names_the_page_and_ems_message(em_sim):
    em_sim.faults({"on": "query", "page": 3, "action": "status", "status": 500, "times": -1, "message": "Deadlock victim, rerun the transaction"})
    with pytest.raises(CommunicationError) as info:
        fetch(em_sim, retries=2, workers=4)
    message = info.value.message
    assert "(page 3)" in message and "HTTP 500" in message and "Deadlock victim" in message and "after 2 retries" in message
    assert em_sim.state()["faults_fired"] == 3
    assert_no_open_session(em_sim)


@pytest.mark.parametrize("env_retries, expected_attempts", [(None, 4), ("1", 2)])
def test_module_retries_default_3_and_from_veeam_em_retries(em_sim, capsys, monkeypatch, env_retries, expected_attempts):
    for name in ENV_NAMES:
        monkeypatch.delenv("VEEAM_EM_" + name, raising=False)
    if env_retries is not None:
        monkeypatch.setenv("VEEAM_EM_RETRIES", env_retries)
    monkeypatch.setattr(retries_module, "BACKOFF_CAP", 0)
    em_sim.faults({"on": "query", "page": 2, "action": "status", "status": 504, "times": -1})
    code, result = run_main(cdp_replica_task_session_info, {"host": "127.0.0.1", "port": em_sim.port, "username": USER, "password": PASSWORD,
                                                            "ca_path": em_sim.ca_file, "page_size": PAGE}, capsys)
    assert code == 1 and "sessions" not in result
    assert "(page 2)" in result["msg"] and "after %d retries" % (expected_attempts - 1) in result["msg"]
    assert em_sim.state()["faults_fired"] == expected_attempts
    assert PASSWORD not in json.dumps(result)
    assert_no_open_session(em_sim)


# -- read timeouts -------------------------------------------------------------------------------


def test_read_timeout_on_a_page_is_retried(em_sim, baseline):
    em_sim.faults({"on": "query", "page": 2, "action": "delay", "delay_ms": 800})
    result, stats = fetch(em_sim, timeout=0.3, retries=1)
    assert result["sessions"] == baseline and stats["retries"] == 1
    assert_no_open_session(em_sim)


def test_read_timeout_exhausted_names_the_page_and_the_timeout(em_sim):
    em_sim.faults({"on": "query", "page": 2, "action": "delay", "delay_ms": 800, "times": -1})
    with pytest.raises(CommunicationError) as info:
        fetch(em_sim, timeout=0.3, retries=1)
    assert "(page 2)" in info.value.message and "timed out" in info.value.message and "after 1 retries" in info.value.message
    assert info.value.details["timeout"] == 0.3
    assert_no_open_session(em_sim)


def test_logon_timeout_is_not_retried(em_sim):
    # A logon that timed out may have opened a session on EM: a second logon would open another.
    em_sim.faults({"on": "logon", "action": "delay", "delay_ms": 800, "times": -1})
    with pytest.raises(CommunicationError) as info:
        fetch(em_sim, timeout=0.3, retries=3)
    assert "POST /api/sessionMngr/" in info.value.message and "timed out" in info.value.message
    assert em_sim.state()["faults_fired"] == 1


# -- logon retry rules ---------------------------------------------------------------------------


def test_logon_503_is_retried(em_sim, baseline):
    em_sim.faults({"on": "logon", "action": "status", "status": 503, "times": 2})
    result, stats = fetch(em_sim)
    assert result["sessions"] == baseline and stats["retries"] == 2 and stats["logons"] == 1
    assert_no_open_session(em_sim)


@pytest.mark.parametrize("status", [401, 500])
def test_logon_401_and_500_are_not_retried(em_sim, status):
    # 500 may come after EM created the session; 401 would only lock the account faster.
    before = requests_of(em_sim, "logon")
    em_sim.faults({"on": "logon", "action": "status", "status": status, "times": -1})
    with pytest.raises(ApiError) as info:
        fetch(em_sim)
    assert info.value.status == status
    assert requests_of(em_sim, "logon") - before == 1
    assert_no_open_session(em_sim)


# -- hostile responses through the client ---------------------------------------------------------


FAILING_FAULTS = [
    ("doctype_entities", {}, "DOCTYPE"),
    ("external_entity", {}, "DOCTYPE"),
    ("truncated_xml", {}, "malformed XML"),
    ("empty_body", {}, "empty response body"),
    ("wrong_content_type", {}, "text/html"),
    ("huge_pages_count", {}, "implausible pagescount: 2147483647"),
    ("negative_pages_count", {}, "implausible pagescount: -1"),
    ("garbage_bytes", {}, "malformed XML"),
    ("body", {"status": 200, "body": "{}", "content_type": "application/json"}, "not a QueryResult"),
    ("body", {"status": 200, "body": "<Error Message='x' />", "content_type": "application/xml"}, "where a QueryResult was expected"),
]


@pytest.mark.parametrize("page", [1, 2])
@pytest.mark.parametrize("action, extra, fragment", FAILING_FAULTS, ids=[case[0] + "-" + case[2][:12] for case in FAILING_FAULTS])
def test_hostile_xml_response_fails_naming_the_page(em_sim, action, extra, fragment, page):
    fault = {"on": "query", "page": page, "action": action}
    fault.update(extra)
    em_sim.faults(fault)
    with pytest.raises(DecodeError) as info:
        fetch(em_sim, {"response_format": "xml"})
    assert fragment in info.value.message and "page %d " % page in info.value.message
    assert info.value.details["page"] == page
    assert_no_open_session(em_sim)


@pytest.mark.parametrize("action", ["truncated_json", "garbage_bytes", "empty_body", "huge_pages_count"])
def test_hostile_json_response_fails_naming_the_page(em_sim, action):
    em_sim.faults({"on": "query", "page": 2, "action": action})
    with pytest.raises(DecodeError) as info:
        fetch(em_sim, {"response_format": "json"})
    assert "page 2 " in info.value.message
    assert_no_open_session(em_sim)


@pytest.mark.parametrize("fault", [
    {"action": "missing_paging_info", "page": 1},
    {"action": "missing_paging_info", "page": 2},
    {"action": "repeat_previous_page", "page": 2},
    {"action": "truncated_xml", "page": 2, "declare_full_length": True},
    {"action": "bom_json", "page": 2},
], ids=lambda fault: "%s-page%d" % (fault["action"], fault["page"]))
def test_survivable_faults_give_the_complete_result(em_sim, baseline, fault):
    em_sim.faults(dict(fault, on="query"))
    result, dummy = fetch(em_sim)
    assert result["sessions"] == baseline
    assert_no_open_session(em_sim)


def test_truncated_body_with_full_content_length_never_hangs(em_sim):
    em_sim.faults({"on": "query", "page": 2, "action": "truncated_xml", "declare_full_length": True, "times": -1})
    with pytest.raises(CommunicationError) as info:
        fetch(em_sim, timeout=5, retries=1)
    assert "(page 2)" in info.value.message and "IncompleteRead" in info.value.message
    assert_no_open_session(em_sim)


def test_pages_empty_after_a_first_answer_that_announced_more_are_never_a_complete_result(em_sim):
    # The first answer announces several pages, then every other page comes back empty: returning what the first
    # answer held would lose the rest silently.
    em_sim.faults({"on": "query", "after": 1, "times": -1, "action": "body", "status": 200,
                   "body": EMPTY_PAGE % PAGE, "content_type": "application/xml"})
    with pytest.raises(IncompleteResultError) as info:
        fetch(em_sim, retries=1)
    assert info.value.details["received"] == PAGE and info.value.details["expected"] > 1
    assert "No partial result" in info.value.message and "after 2 passes" in info.value.message
    assert_no_open_session(em_sim)


def test_first_answer_with_all_records_on_one_page_is_the_whole_result(em_sim):
    # The same fault with everything on the first page: that one request is the complete answer.
    em_sim.faults({"on": "query", "after": 1, "times": -1, "action": "body", "status": 200,
                   "body": EMPTY_PAGE % 1000, "content_type": "application/xml"})
    result, stats = fetch(em_sim, {"page_size": 1000})
    assert result["count"] == result["total"] == em_sim.state()["records"]["CdpReplicaTaskSession"]
    assert stats["query_requests"] == 1


def test_pages_announced_but_unreadable_point_at_the_other_wire_format(em_sim):
    # EM announces 3 pages but no page holds items this collection can read: nothing readable at all.
    em_sim.faults({"on": "query", "times": -1, "action": "body", "status": 200, "content_type": "application/xml",
                   "body": EMPTY_PAGE.replace('PagesCount="0"', 'PagesCount="3"') % PAGE})
    with pytest.raises(IncompleteResultError) as info:
        fetch(em_sim, retries=1)
    assert info.value.details["received"] == 0 and info.value.details["expected"] == 3
    assert "no page held items" in info.value.message and "response_format: xml" in info.value.message
    assert_no_open_session(em_sim)


# -- logoff after an unexpected exception ---------------------------------------------------------


def test_exception_while_normalising_still_logs_off(em_sim, monkeypatch):
    def broken(raw):
        raise KeyError("simulated decoder bug")

    monkeypatch.setattr(query_module, "normalise_task_session", broken)
    with pytest.raises(KeyError):
        fetch(em_sim, workers=4)
    state = em_sim.state()
    assert state["logons"] == state["logoffs"] == 1 and state["open_sessions"] == 0


def test_logoff_failure_is_a_warning_not_an_error(em_sim, baseline):
    em_sim.faults({"on": "logoff", "action": "reset", "times": -1})
    warnings = []
    with EmClient(em_sim.config(retries=1), warn=warnings.append, backoff_base=0) as client:
        result = run_query(client, prepare_cdp_query({"page_size": PAGE}))
    assert result["sessions"] == baseline
    assert len(warnings) == 1 and "Could not log off" in warnings[0] and "15 minutes" in warnings[0]
    em_sim.expire()


# -- hostile filter values against the simulator --------------------------------------------------


@pytest.mark.parametrize("value", [
    'a";VmDisplayName!="', "x),(VmDisplayName!=y", "web;01,a+b", "==", "\u00e9\u65e5\U0001f600", "x" * 4000,
])
def test_hostile_filter_values_match_nothing_and_fail_nothing(em_sim, value):
    result, stats = fetch(em_sim, {"vm_display_name": value, "reason": [value, "("]})
    assert result["count"] == 0 and result["total"] == 0 and stats["query_requests"] == 1
    assert_no_open_session(em_sim)


def test_special_vm_names_are_matched_exactly(em_sim):
    em_sim.control("POST", "/_sim/reset", {"vms": 20, "days": 2})
    names = em_sim.control("GET", "/_sim/truth")["special_names"]
    assert len(names) >= 4
    for name in names:
        result, dummy = fetch(em_sim, {"vm_display_name": name})
        assert result["count"] > 0 and {record["vm_display_name"] for record in result["sessions"]} == {name}
    assert_no_open_session(em_sim)
