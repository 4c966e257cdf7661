# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 17: generated EM answers (query pages, logon answers, streamed bodies) through the decoders,
the record normaliser, the logon reader and the body reader, each under a time and memory bound.

test_decode.py fuzzes arbitrary bytes and fragments; these generate answers shaped like EM's (the right
root, lists and PagingInfo, with hostile values), which get past the first checks and reach deeper code.
The bounds are generous (a slow CI machine must not fail them) but catch runaway work: a decoder that
expands, loops or copies quadratically blows them by orders of magnitude.
"""

from __future__ import annotations

import base64
import io
import json
import time
import tracemalloc
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import decode_query_page, error_message
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import CommunicationError, EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.logon import read_logon_answer
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import normalise_task_session
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.secrets import guid_from_token, is_session_token
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.transfer import MIB, Bounds, read_body

SECONDS = 2.0
PEAK_BYTES = 64 * MIB
NS = "http://www.veeam.com/ent/v1.0"
FIELDS = ["UID", "Name", "VmDisplayName", "CreationTimeUTC", "EndTimeUTC", "State", "Result", "Reason", "TotalSize",
          "PolicySessionUid", "Href", "Type", "Links"]

TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["2024-02-30T25:61:00Z", "9999-99-99T99:99:99Z", "-1", "NaN", "]]>", "\x00\x1b[31m",
                                                        "urn:veeam:CdpReplicaTaskSession:x", "InProgress", "Completed", ""]))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10 ** 30, max_value=10 ** 30), st.floats(allow_nan=True), TEXT)
KEYS = st.sampled_from(FIELDS + ["Rel", "x"])
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
ITEM = st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=len(FIELDS))
PAGES_COUNT = st.one_of(st.none(), st.integers(min_value=-5, max_value=10 ** 12), TEXT)
CASE = st.sampled_from([str, str.lower, lambda key: key[:1].lower() + key[1:]])


def bounded(func, *args):
    """func(*args) under the time and memory bound; returns its result or the EmError it raised."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = func(*args)
    except EmError as exc:
        outcome = exc
    finally:
        elapsed = time.perf_counter() - started
        dummy, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < SECONDS, "took %.2f s" % elapsed
    assert peak < PEAK_BYTES, "peak %d bytes" % peak
    return outcome


def decode_and_normalise(body, content_type):
    page = decode_query_page(body, content_type, "CdpReplicaTaskSessions")
    assert isinstance(page.items, list)
    assert page.pages_count is None or 0 <= page.pages_count <= 10 ** 8
    return [normalise_task_session(item, include_links=True) for item in page.items]


def json_page(items, pages_count, case, extra):
    document = {case("Entities"): {case("CdpReplicaTaskSessions"): {case("CdpReplicaTaskSessions"): items}}}
    if extra:
        document = {case("Entities"): {case("CdpReplicaTaskSessions"): items}}
    if pages_count is not None:
        document[case("PagingInfo")] = {case("PagesCount"): pages_count, case("PageNum"): 1}
    return json.dumps(document).encode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ITEM, max_size=20), PAGES_COUNT, CASE, st.booleans())
def test_generated_json_pages_decode_within_bounds(items, pages_count, case, extra):
    outcome = bounded(decode_and_normalise, json_page(items, pages_count, case, extra), "application/json; charset=utf-8")
    assert isinstance(outcome, (list, EmError))
    if isinstance(outcome, list):
        assert all(isinstance(record, dict) for record in outcome)


def xml_page(items, pages_count):
    root = ET.Element("{%s}QueryResult" % NS)
    container = ET.SubElement(ET.SubElement(root, "{%s}Entities" % NS), "{%s}CdpReplicaTaskSessions" % NS)
    for item in items:
        element = ET.SubElement(container, "{%s}CdpReplicaTaskSession" % NS)
        for key, value in item.items():
            text = "".join(ch for ch in str(value) if ch in "\t\n\r" or (" " <= ch <= "\ud7ff") or ("\ue000" <= ch <= "\ufffd"))
            if key in ("UID", "Name", "VmDisplayName", "Href", "Type"):
                element.set(key, text)
            else:
                ET.SubElement(element, "{%s}%s" % (NS, key)).text = text
    if pages_count is not None:
        ET.SubElement(root, "{%s}PagingInfo" % NS, {"PagesCount": str(pages_count), "PageNum": "1"})
    return ET.tostring(root, encoding="utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ITEM, max_size=20), PAGES_COUNT)
def test_generated_xml_pages_decode_within_bounds(items, pages_count):
    outcome = bounded(decode_and_normalise, xml_page(items, pages_count), "application/xml")
    assert isinstance(outcome, (list, EmError))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["SessionId", "sessionId", "UserName", "Links", "Href"]), VALUE, max_size=5),
       st.sampled_from(["application/json", "application/xml", None, "text/html"]))
def test_generated_logon_answers_never_raise(answer, content_type):
    body = json.dumps(answer).encode("utf-8")
    read = bounded(read_logon_answer, body, content_type)
    assert read.session_id is None or isinstance(read.session_id, str)
    bounded(error_message, body, content_type)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=64), st.binary(max_size=48).map(lambda raw: base64.b64encode(raw).decode("ascii"))))
def test_only_documented_session_shapes_are_accepted(token):
    if is_session_token(token):
        raw = base64.b64decode(token, validate=True)
        assert guid_from_token(token) or len(raw) == 16


class _Chunked(io.RawIOBase):
    """A body delivered in the given pieces."""

    def __init__(self, pieces):
        super().__init__()
        self.pieces = list(pieces)

    def read(self, size=-1):
        return self.pieces.pop(0) if self.pieces else b""


class _Response:
    def __init__(self, pieces, declared):
        self.raw = _Chunked(pieces)
        self.headers = {"Content-Length": str(declared)} if declared is not None else {}

    def close(self):
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=4096), max_size=40), st.integers(min_value=1, max_value=64 * 1024), st.booleans())
def test_streamed_bodies_are_read_whole_or_refused_at_the_limit(pieces, limit, declare):
    body = b"".join(pieces)
    bounds = Bounds(time.monotonic() + 60, limit, "GET /api/query", "https://em", 60)
    response = _Response(pieces, len(body) if declare else None)
    if len(body) <= limit:
        assert bounded(read_body, response, bounds, "GET", "/api/query") == body
    else:
        with pytest.raises(CommunicationError, match="max_response_mb"):
            read_body(response, bounds, "GET", "/api/query")
