# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EmClient against the TLS simulator: logon/logoff, retries, re-logon, TLS, secrets, request(); paging is in test_paging.py."""

from __future__ import annotations

import base64
import io

import pytest
import requests
import requests.adapters

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient, Ownership
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import (
    ApiError,
    AuthError,
    CommunicationError,
    EmError,
    SessionExpiredError,
    TLSError,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import ConnectionConfig
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, run_query
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim import server as simserver
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import INTL_PASSWORD, INTL_USER, PASSWORD

PAGE = 5


def client_for(sim, warnings=None, **overrides):
    return EmClient(sim.config(**overrides), warn=(warnings.append if warnings is not None else None), backoff_base=0)


def fetch(sim, params=None, warnings=None, **overrides):
    """Run a CDP task-session query; returns (result, client stats)."""
    query = {"page_size": PAGE}
    query.update(params or {})
    with client_for(sim, warnings, **overrides) as client:
        result = run_query(client, prepare_cdp_query(query))
        stats = dict(client.stats)
    return result, stats


def uids(result):
    return [record["uid"] for record in result["sessions"]]


def assert_no_open_session(sim):
    assert sim.state()["open_sessions"] == 0


def headers_named(request, name):
    return [value for key, value in request["headers"] if key.lower() == name.lower()]


@pytest.fixture
def baseline(em_sim):
    # XML, EM's documented representation: the JSON tests compare against it.
    result, dummy = fetch(em_sim, {"response_format": "xml"})
    em_sim.requests.clear()
    assert result["count"] == em_sim.state()["records"]["CdpReplicaTaskSession"] > 5 * PAGE
    return result


# -- logon and logoff ----------------------------------------------------------------------------


def test_logon_query_logoff_round_trip(em_sim, baseline):
    state = em_sim.state()
    assert state["logons"] == state["logoffs"] == 1 and state["open_sessions"] == 0
    assert baseline["total"] == baseline["count"] and not baseline["truncated"]
    assert len(set(uids(baseline))) == baseline["count"]
    created = [record["creation_time_utc"] for record in baseline["sessions"]]
    assert created == sorted(created)


def test_logon_header_is_read_case_insensitively(em_sim, monkeypatch):
    monkeypatch.setattr(simserver, "SESSION_HEADER", "x-restsvcsessionid")
    with client_for(em_sim) as client:
        token = client.logon()
        assert token
        assert client.check(client.get("/api/querySvc", ""), "/api/querySvc").status_code == 200
    service = [request for request in em_sim.requests if request["path"] == "/api/querySvc"]
    assert len(service) == 1 and headers_named(service[0], "X-RestSvcSessionId") == [token]
    assert_no_open_session(em_sim)


def test_no_cookies_and_exactly_one_accept_type(em_sim):
    result, dummy = fetch(em_sim)
    assert result["count"] > PAGE
    assert len(em_sim.requests) >= 4
    queries = em_sim.query_requests()
    for request in em_sim.requests:
        assert headers_named(request, "Cookie") == []
        accept = headers_named(request, "Accept")
        # Queries in the default JSON; logon and logoff documents in XML.
        assert accept == ["application/json" if request in queries else "application/xml"], request
    result, dummy = fetch(em_sim, {"response_format": "xml"})
    queries = em_sim.query_requests()
    assert queries and all(headers_named(request, "Accept") == ["application/xml"] for request in queries[-3:])


def test_json_and_xml_give_identical_results(em_sim, baseline):
    for case in ("pascal", "camel"):
        em_sim.configure(json_case=case, json_bom=(case == "camel"))
        result, dummy = fetch(em_sim, {"response_format": "json"})
        assert result["sessions"] == baseline["sessions"]
        result, dummy = fetch(em_sim, {"response_format": "json", "include_links": True})
        assert [record.pop("links") for record in result["sessions"]][0]
        assert result["sessions"] == baseline["sessions"]


def test_basic_auth_with_non_ascii_password(em_sim):
    with client_for(em_sim, username=INTL_USER, password=INTL_PASSWORD) as client:
        client.logon()
        assert client.user_name == INTL_USER
    logon = [request for request in em_sim.requests if request["path"].startswith("/api/sessionMngr")][0]
    scheme, encoded = headers_named(logon, "Authorization")[0].split(" ", 1)
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode("utf-8") == "%s:%s" % (INTL_USER, INTL_PASSWORD)
    assert headers_named(logon, "Content-Length") == ["0"]
    assert "v=latest" in logon["query"]
    assert_no_open_session(em_sim)


def test_wrong_password_is_an_auth_error_with_guidance(em_sim):
    wrong = "Wr0ng-pa55word!"
    with pytest.raises(AuthError) as info:
        with client_for(em_sim, password=wrong) as client:
            client.logon()
    message = info.value.message
    assert info.value.status == 401
    assert "password" in message and "DOMAIN\\user" in message and "user@domain" in message
    assert wrong not in message and wrong not in repr(info.value.to_result())
    state = em_sim.state()
    assert state["failed_logons"] == 1 and state["open_sessions"] == 0
    # A rejected logon is never retried.
    assert len([request for request in em_sim.requests if request["path"].startswith("/api/sessionMngr")]) == 1


def test_logon_404_names_both_ports(em_sim):
    em_sim.faults({"on": "logon", "action": "status", "status": 404})
    with pytest.raises(ApiError) as info:
        with client_for(em_sim) as client:
            client.logon()
    assert "9398" in info.value.message and "9419" in info.value.message
    assert info.value.status == 404
    assert_no_open_session(em_sim)


def test_logoff_after_exception_inside_the_block(em_sim):
    with pytest.raises(RuntimeError):
        with client_for(em_sim) as client:
            client.ensure_session()
            assert em_sim.state()["open_sessions"] == 1
            raise RuntimeError("boom")
    state = em_sim.state()
    assert state["open_sessions"] == 0 and state["logoffs"] == 1


def test_logoff_after_an_api_error_while_paging(em_sim):
    em_sim.faults({"on": "query", "page": 2, "action": "status", "status": 400, "message": "Invalid filter"})
    with pytest.raises(ApiError) as info:
        fetch(em_sim)
    assert info.value.status == 400 and "page 2" in info.value.message and "Invalid filter" in info.value.message
    assert_no_open_session(em_sim)


def test_caller_session_id_means_no_logon_and_no_logoff(em_sim, baseline):
    with client_for(em_sim) as owner:
        owner.ownership = Ownership.HANDED_OUT
        token = owner.logon()
    before = em_sim.state()
    assert before["open_sessions"] == 1
    result, stats = fetch(em_sim, session_id=token, username=None, password=None)
    assert result["sessions"] == baseline["sessions"]
    assert stats["logons"] == 0 and stats["logoffs"] == 0
    after = em_sim.state()
    assert after["logons"] == before["logons"] and after["logoffs"] == before["logoffs"] and after["open_sessions"] == 1
    assert all(headers_named(request, "X-RestSvcSessionId") == [token] for request in em_sim.query_requests())

    em_sim.expire()
    with pytest.raises(SessionExpiredError) as info:
        fetch(em_sim, session_id=token, username=None, password=None)
    assert info.value.status == 401 and "session module" in info.value.message
    assert token not in info.value.message and token not in repr(info.value.to_result())
    assert em_sim.state()["logons"] == before["logons"]


# -- retries and re-logon ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_retryable_status_is_retried(em_sim, baseline, status):
    em_sim.faults({"on": "query", "page": 2, "action": "status", "status": status, "times": 2})
    result, stats = fetch(em_sim, workers=4)
    assert result["sessions"] == baseline["sessions"]
    assert stats["retries"] == 2
    assert em_sim.state()["faults_fired"] == 2


def test_connection_reset_is_retried(em_sim, baseline):
    em_sim.faults({"on": "query", "page": 3, "action": "reset", "times": 2})
    result, stats = fetch(em_sim)
    assert result["sessions"] == baseline["sessions"]
    assert stats["retries"] == 2
    assert_no_open_session(em_sim)


def test_exhausted_retries_on_reset_name_the_page(em_sim):
    em_sim.faults({"on": "query", "page": 2, "action": "reset", "times": -1})
    with pytest.raises(CommunicationError) as info:
        fetch(em_sim, retries=2)
    assert "(page 2)" in info.value.message and "after 2 retries" in info.value.message
    assert_no_open_session(em_sim)


@pytest.mark.parametrize("status", [500, 503])
def test_exhausted_retries_on_status_name_the_page(em_sim, status):
    em_sim.faults({"on": "query", "page": 3, "action": "status", "status": status, "times": -1})
    with pytest.raises(CommunicationError) as info:
        fetch(em_sim, retries=1, workers=4)
    assert "(page 3)" in info.value.message and "HTTP %d" % status in info.value.message
    assert_no_open_session(em_sim)


def test_session_expiry_mid_paging_logs_on_again(em_sim, baseline):
    em_sim.faults({"on": "query", "page": 3, "action": "expire_session"})
    result, stats = fetch(em_sim)
    assert result["sessions"] == baseline["sessions"]
    assert stats["relogons"] == 1 and stats["logons"] == 2
    state = em_sim.state()
    assert state["expired_sessions"] == 1 and state["open_sessions"] == 0


def test_session_expiry_mid_paging_with_workers(em_sim, baseline):
    em_sim.faults({"on": "query", "page": 2, "action": "expire_session"})
    result, stats = fetch(em_sim, workers=4)
    assert result["sessions"] == baseline["sessions"]
    assert stats["relogons"] >= 1
    assert_no_open_session(em_sim)


def test_repeated_401_after_relogon_is_an_auth_error(em_sim):
    em_sim.faults({"on": "query", "page": 2, "action": "expire_session", "times": -1})
    with pytest.raises(AuthError) as info:
        fetch(em_sim)
    assert "again right after a new logon" in info.value.message
    assert_no_open_session(em_sim)


# -- TLS -----------------------------------------------------------------------------------------


def test_default_verification_fails_against_the_self_signed_simulator(em_sim):
    with pytest.raises(TLSError) as info:
        fetch(em_sim, ca_path=None)
    assert "ca_path" in info.value.message and "validate_certs" in info.value.message
    assert_no_open_session(em_sim)


def test_ca_path_verifies(em_sim, baseline):
    result, dummy = fetch(em_sim, ca_path=em_sim.ca_file)
    assert result["count"] == baseline["count"]


def test_validate_certs_false_works_and_warns_once(em_sim, baseline, recwarn):
    warnings = []
    result, dummy = fetch(em_sim, warnings=warnings, ca_path=None, validate_certs=False)
    assert result["sessions"] == baseline["sessions"]
    assert len(warnings) == 1 and "validate_certs" in warnings[0]
    assert not [warning for warning in recwarn if "Unverified HTTPS" in str(warning.message)]


# -- secrets -------------------------------------------------------------------------------------


def _assert_secret_free(exc, *secrets):
    texts = [str(exc), exc.message, repr(exc.to_result()), repr(exc.details)]
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_secrets_never_appear_in_errors(em_sim):
    with client_for(em_sim) as owner:
        owner.ownership = Ownership.HANDED_OUT
        token = owner.logon()
    # EM's token is base64 of the logon session's GUID, which opens the same session.
    guid = base64.b64decode(token).decode("ascii")
    # A client can only mask what it knows: its password, and the session id it was given or obtained.
    leak = "token %s guid %s" % (token, guid)
    password_leak = "password %s" % PASSWORD
    failures = []

    def capture(func):
        try:
            func()
        except EmError as exc:
            failures.append(exc)
        else:
            raise AssertionError("expected an EmError")

    em_sim.faults({"on": "query", "action": "status", "status": 400, "message": leak})
    capture(lambda: fetch(em_sim, session_id=token, username=None, password=None))
    em_sim.faults({"on": "query", "action": "status", "status": 503, "message": password_leak, "times": -1})
    capture(lambda: fetch(em_sim, retries=1))
    em_sim.faults({"on": "query", "action": "status", "status": 503, "message": leak, "times": -1})
    capture(lambda: fetch(em_sim, session_id=token, username=None, password=None, retries=0))
    em_sim.faults({"on": "logon", "action": "status", "status": 401, "message": password_leak})
    capture(lambda: fetch(em_sim))
    em_sim.faults({"on": "logon", "action": "status", "status": 500, "message": password_leak})
    capture(lambda: fetch(em_sim, retries=0))
    em_sim.faults()
    capture(lambda: fetch(em_sim, ca_path=None))
    em_sim.expire()
    capture(lambda: fetch(em_sim, session_id=token, username=None, password=None))
    assert [type(exc) for exc in failures] == [ApiError, CommunicationError, CommunicationError, AuthError, ApiError, TLSError,
                                               SessionExpiredError]
    for exc in failures:
        _assert_secret_free(exc, PASSWORD, token, guid)
    assert "********" in failures[0].message
    assert_no_open_session(em_sim)


def test_scrub_masks_every_known_secret(em_sim):
    with client_for(em_sim, password="hunter2-pass") as client:
        assert client.scrub("x hunter2-pass y") == "x ******** y"
        assert client.scrub("abc") == "abc"
    with pytest.raises(AuthError):
        with client_for(em_sim, password="hunter2-pass") as client:
            client.logon()


# -- request(): any method -----------------------------------------------------------------------


def test_request_get_returns_the_checked_response(em_sim):
    with client_for(em_sim) as client:
        response = client.request("GET", "/api/logonSessions", accept="json")
        assert response.status_code == 200 and "json" in response.headers["Content-Type"]
        with pytest.raises(ApiError) as info:
            client.request("GET", "/api/noSuchResource")
    assert info.value.status == 404 and info.value.details["method"] == "GET" and "GET /api/noSuchResource" in info.value.message
    assert_no_open_session(em_sim)


def test_request_translates_errors_of_other_methods(em_sim):
    with client_for(em_sim) as client:
        with pytest.raises(ApiError) as info:
            client.request("post", "/api/query", params="type=CdpPolicy", body="<x/>", content_type="xml")
    assert info.value.status == 405 and info.value.details["method"] == "POST" and "POST /api/query" in info.value.message
    query = em_sim.query_requests()[0]
    assert query["method"] == "POST" and headers_named(query, "Content-Type") == ["application/xml"]
    assert_no_open_session(em_sim)


def test_request_logs_on_again_after_expiry_and_scrubs_secrets(em_sim):
    with client_for(em_sim) as client:
        client.logon()
        em_sim.expire()
        assert client.request("GET", "/api/querySvc").status_code == 200
        assert client.stats["relogons"] == 1
        em_sim.faults({"on": "any", "action": "status", "status": 400, "message": "password %s" % PASSWORD})
        with pytest.raises(ApiError) as info:
            client.request("PUT", "/api/querySvc", body="{}", content_type="json")
    _assert_secret_free(info.value, PASSWORD)
    assert "********" in info.value.message and "Check the request's parameters and body" in info.value.message
    assert_no_open_session(em_sim)


def test_request_with_a_borrowed_session_that_expired(em_sim):
    with client_for(em_sim) as owner:
        owner.ownership = Ownership.HANDED_OUT
        token = owner.logon()
    em_sim.expire()
    with client_for(em_sim, session_id=token, username=None, password=None) as client:
        with pytest.raises(SessionExpiredError) as info:
            client.request("DELETE", "/api/querySvc")
    assert info.value.details["method"] == "DELETE" and em_sim.state()["logons"] == 1


class FakeTransport(requests.adapters.BaseAdapter):
    """Answers every request from a script: a status code, or an exception to raise. Records what was sent."""

    def __init__(self, *script):
        super().__init__()
        self.script = list(script)
        self.sent = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        response = requests.Response()
        response.status_code = step
        response.headers["Content-Type"] = "application/xml"
        response.raw = io.BytesIO(b"<Error Message='simulated' />" if step >= 400 else b"")
        response.request = request
        response.url = request.url
        return response

    def close(self):
        pass


def fake_client(*script, retries=3):
    transport = FakeTransport(*script)
    config = ConnectionConfig.from_options({"host": "em.example.com", "session_id": "c2Vzc2lvbg==", "retries": retries})
    client = EmClient(config, backoff_base=0)
    client.session.mount("https://", transport)
    return client, transport


@pytest.mark.parametrize("method", ["PUT", "DELETE", "GET"])
@pytest.mark.parametrize("failure", [503, 500, requests.exceptions.ReadTimeout("slow"), requests.exceptions.ConnectionError("reset")],
                         ids=["503", "500", "timeout", "reset"])
def test_idempotent_methods_are_retried(method, failure):
    client, transport = fake_client(failure, failure, 204)
    with client:
        response = client.request(method, "/api/cdpPolicies/1", body="<CdpPolicy/>" if method == "PUT" else None, expected=(204,))
    assert response.status_code == 204
    assert [request.method for request in transport.sent] == [method] * 3 and client.stats["retries"] == 2


@pytest.mark.parametrize("failure, error", [(503, ApiError), (500, ApiError), (requests.exceptions.ReadTimeout("slow"), CommunicationError),
                                            (requests.exceptions.ConnectionError("reset"), CommunicationError)],
                         ids=["503", "500", "timeout", "reset"])
def test_post_is_never_sent_twice(failure, error):
    client, transport = fake_client(failure, 201)
    with client:
        with pytest.raises(error) as info:
            client.request("POST", "/api/cdpPolicies", body='{"Name": "p\u00e9"}', content_type="json", expected=(201,))
    assert len(transport.sent) == 1 and client.stats["retries"] == 0
    assert "POST /api/cdpPolicies" in info.value.message
    sent = transport.sent[0]
    assert sent.body == '{"Name": "p\u00e9"}'.encode("utf-8") and sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/xml" and sent.headers["X-RestSvcSessionId"] == "c2Vzc2lvbg=="


def test_put_retries_stop_at_the_limit():
    client, transport = fake_client(503, 503, retries=1)
    with client:
        with pytest.raises(CommunicationError) as info:
            client.request("PUT", "/api/cdpPolicies/1", body=b"<CdpPolicy/>")
    assert len(transport.sent) == 2 and "kept failing with HTTP 503" in info.value.message and "after 1 retries" in info.value.message
