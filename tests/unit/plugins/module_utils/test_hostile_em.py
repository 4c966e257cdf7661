# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 17: EmClient against the simulator's hostile-EM mode (tests/simulator/emsim/hostile.py).

Each test names the review finding (F2..F9) it reproduces; each failed on 0.1.0.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import quote

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import ApiError, AuthError, CommunicationError, EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, run_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.secrets import (
    Secrets,
    basic_credential,
    guid_from_token,
    is_session_token,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.transfer import BASE_BODY_LIMIT, BODY_LIMIT_PER_RECORD, body_limit
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD, USER

PAGE = 5
# Characters that URL encoding and JSON escaping change, so each derived form differs from the password.
ODD_PASSWORD = 'S3c "ret"/p&ss\\w\u00f6rd'


def run(sim, registered=None, **overrides):
    query = {"page_size": PAGE}
    with EmClient(sim.config(**overrides), register_secret=(registered.add if registered is not None else None), backoff_base=0) as client:
        result = run_query(client, prepare_cdp_query(query))
        stats = dict(client.stats)
    return result, stats


def error_of(sim, registered=None, **overrides):
    with pytest.raises(EmError) as info:
        run(sim, registered, **overrides)
    return info.value


# -- F2: credential echoes -----------------------------------------------------------------------


def test_basic_credential_echoed_by_em_is_masked(em_sim):
    em_sim.faults({"on": "logon", "action": "echo_credentials"})
    registered = set()
    exc = error_of(em_sim, registered)
    basic = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode("utf-8")).decode("ascii")
    text = repr(exc.to_result()) + str(exc)
    assert isinstance(exc, AuthError) and "Authorization: Basic ********" in exc.message
    assert basic not in text and PASSWORD not in text and quote(PASSWORD, safe="") not in text
    # Ansible masks what was registered (module.no_log_values): the Basic value is among it.
    assert {basic, PASSWORD} <= registered
    assert em_sim.state()["open_sessions"] == 0


def test_every_derived_form_of_the_password_is_masked(em_sim):
    secrets = Secrets()
    secrets.add_credentials(USER, ODD_PASSWORD)
    forms = [ODD_PASSWORD, basic_credential(USER, ODD_PASSWORD), quote(ODD_PASSWORD, safe=""), quote(ODD_PASSWORD),
             json.dumps(ODD_PASSWORD)[1:-1], json.dumps(ODD_PASSWORD, ensure_ascii=False)[1:-1],
             ODD_PASSWORD.replace("&", "&amp;").replace('"', "&quot;")]
    for form in forms:
        assert secrets.scrub("before %s after" % form) == "before ******** after", form
    with EmClient(em_sim.config(password=ODD_PASSWORD)) as client:
        assert client.scrub("x %s y" % basic_credential(USER, ODD_PASSWORD)) == "x ******** y"


def test_basic_credential_of_a_non_ascii_password_is_what_requests_sends():
    # requests builds the header from the UTF-8 bytes EmClient passes it.
    assert basic_credential("EMLAB\\m\u00fcller", "p\u00e4ss") == base64.b64encode("EMLAB\\m\u00fcller:p\u00e4ss".encode("utf-8")).decode()


# -- F3: session ids EM chooses ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["both", "token", "session_id"])
@pytest.mark.parametrize("value", ["non_compliant", "compliant", "Success", "a"])
def test_malformed_session_id_is_refused_and_logged_off(em_sim, field, value):
    em_sim.faults({"on": "logon", "action": "logon_session_id", "value": value, "field": field})
    registered = set()
    exc = error_of(em_sim, registered)
    assert isinstance(exc, ApiError) and "logon answer is malformed" in exc.message
    # Never a no_log value: Ansible would mask that word in the whole result (a verdict, a status).
    assert value not in registered
    state = em_sim.state()
    assert state["open_sessions"] == 0 and state["logoffs"] == 1
    assert not em_sim.query_requests()


def test_documented_session_shapes_are_accepted():
    guid = "eb009383-3f37-4a3b-a1d2-0123456789ab"
    token = base64.b64encode(guid.encode("ascii")).decode("ascii")
    assert is_session_token(token) and guid_from_token(token) == guid
    assert is_session_token("O9Msj3rq7EGUhtSMBQx+mw==")  # older EM: base64 of a 16-byte binary GUID
    for bad in ["non_compliant", "", "c2Vzc2lvbg==", base64.b64encode(b"x" * 40).decode(), token + "\n", None, 42]:
        assert not is_session_token(bad), bad


# -- F5, F7: deadline and body size --------------------------------------------------------------


def test_trickled_body_hits_the_request_deadline(em_sim):
    em_sim.faults({"on": "query", "action": "trickle", "every_ms": 100, "size": 1000, "times": -1})
    started = time.monotonic()
    exc = error_of(em_sim, timeout=5, request_timeout=2, retries=0)
    assert time.monotonic() - started < 10
    assert isinstance(exc, CommunicationError) and "request_timeout" in exc.message and "within 2 s" in exc.message
    assert em_sim.state()["open_sessions"] == 0


def test_declared_huge_body_is_refused_before_reading(em_sim):
    em_sim.faults({"on": "query", "action": "huge_body", "size": 500000000, "times": -1})
    exc = error_of(em_sim, retries=0)
    assert isinstance(exc, CommunicationError) and "implausibly large" in exc.message and "max_response_mb" in exc.message
    assert "500000000 bytes" in exc.message
    assert em_sim.state()["open_sessions"] == 0


def test_body_larger_than_the_cap_is_cut_off_while_streaming(em_sim, monkeypatch):
    # No trustworthy Content-Length: the count while reading stops it.
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils import transfer
    em_sim.faults({"on": "query", "action": "huge_body", "size": 5 * 1024 * 1024, "times": -1})
    original = transfer.read_body

    def without_length(response, bounds, method, path):
        response.headers.pop("Content-Length", None)
        return original(response, bounds, method, path)

    monkeypatch.setattr("ansible_collections.veeam.enterprise_manager.plugins.module_utils.client.read_body", without_length)
    exc = error_of(em_sim, retries=0, max_response_mb=2)
    assert "at least" in exc.message and "2 MiB" in exc.message


def test_max_response_mb_raises_the_cap(em_sim):
    result, dummy = run(em_sim, max_response_mb=1)
    assert result["count"] > PAGE


def test_body_limit_is_derived_from_the_page_size():
    assert body_limit("type=x&pageSize=1000&page=2") == BASE_BODY_LIMIT + 1000 * BODY_LIMIT_PER_RECORD
    assert body_limit({"pageSize": 1}) == BASE_BODY_LIMIT + BODY_LIMIT_PER_RECORD
    assert body_limit(None) == BASE_BODY_LIMIT
    assert body_limit("pageSize=1000", max_response_mb=500) == 500 * 1024 * 1024


# -- F6: a spurious 401 --------------------------------------------------------------------------


def test_spurious_401_logs_off_the_session_it_replaces(em_sim):
    em_sim.faults({"on": "query", "page": 2, "action": "status", "status": 401})
    result, stats = run(em_sim)
    state = em_sim.state()
    assert stats["relogons"] == 1 and state["logons"] == 2 and state["logoffs"] == 2 and state["open_sessions"] == 0
    assert result["count"] == result["total"]


def test_401_on_every_query_leaves_no_session(em_sim):
    em_sim.faults({"on": "query", "action": "status", "status": 401, "times": -1})
    exc = error_of(em_sim)
    assert isinstance(exc, AuthError) and "again right after a new logon" in exc.message
    assert em_sim.state()["open_sessions"] == 0


# -- F9: plain http ------------------------------------------------------------------------------


def test_plain_http_sends_nothing_without_the_opt_in(em_sim):
    exc = error_of(em_sim, host="http://127.0.0.1:%d" % em_sim.port)
    assert "allow_plain_http" in exc.message
    assert not em_sim.requests
