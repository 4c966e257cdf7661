# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON read by msgspec gives exactly what the standard library gives: the same values, or the same error."""

from __future__ import annotations

import json
import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import decode
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import DecodeError
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import FIXTURES, fixture_bytes

msgspec = pytest.importorskip("msgspec")

JSON = "application/json"
PLURAL = "CdpReplicaTaskSessions"
JSON_FIXTURES = sorted(["seed_query_result_pascal.json", "seed_query_result_camel.json"] +
                       ["corpus/" + name for name in os.listdir(os.path.join(FIXTURES, "corpus")) if name.endswith(".json")])


def outcome(func, *args, fast):
    """repr of what func returns with msgspec on (fast) or off, or the error: repr tells 1 from 1.0 and True, and shows key order."""
    saved = decode.HAS_MSGSPEC
    decode.HAS_MSGSPEC = fast
    try:
        return repr(func(*args))
    except DecodeError as exc:
        return "DecodeError: %s" % exc.message
    except RecursionError:  # _parse_json leaves it to decode_document and decode_query_page, which make it a DecodeError
        return "RecursionError"
    finally:
        decode.HAS_MSGSPEC = saved


def same_both_ways(func, *args):
    fast = outcome(func, *args, fast=True)
    assert fast == outcome(func, *args, fast=False)
    return fast


@pytest.fixture
def stdlib_calls(monkeypatch):
    """How often the standard library parsed JSON."""
    calls = []
    loads = json.loads

    def counting_loads(text, *args, **kwargs):
        calls.append(text)
        return loads(text, *args, **kwargs)
    monkeypatch.setattr(decode.json, "loads", counting_loads)
    return calls


def test_fixtures_are_there():
    assert len(JSON_FIXTURES) >= 10
    assert "corpus/query_cdpreplicasession_entities_camel.json" in JSON_FIXTURES


@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_fixtures_read_the_same_with_either_parser(name, stdlib_calls):
    body = fixture_bytes(name)
    for with_bom in (body, b"\xef\xbb\xbf" + body):
        parsed = same_both_ways(decode._parse_json, with_bom)
        assert not parsed.startswith("DecodeError")
        same_both_ways(decode.decode_document, with_bom, JSON)
        if b"ntities" in body or b"efs" in body:
            same_both_ways(lambda data: vars(decode.decode_query_page(data, JSON, PLURAL)), with_bom)
    # With msgspec on, the standard library parsed only for the runs with msgspec off.
    stdlib_calls.clear()
    outcome(decode._parse_json, body, fast=True)
    assert stdlib_calls == []


@pytest.mark.parametrize("body", [
    b"[NaN]", b"[Infinity, -Infinity]", b"[1e400]", b'{"a": 1.7976931348623159e308}',
    b'["\\ud800"]', b'{"\\udc00\\ud800": 1}',
    b"[-1" + b"0" * 4299 + b"]",  # 4300 digits: the standard library's limit, which does not count the sign
])
def test_what_msgspec_refuses_the_standard_library_reads(body, stdlib_calls):
    with pytest.raises((msgspec.MsgspecError, RecursionError)):
        msgspec.json.decode(body[3:] if body.startswith(b"\xef\xbb\xbf") else body)
    fast = same_both_ways(decode._parse_json, body)
    stdlib_calls.clear()
    outcome(decode._parse_json, body, fast=True)
    assert len(stdlib_calls) == 1
    assert fast == repr(json.loads(body.decode("utf-8-sig")))


@pytest.mark.parametrize("body", [
    b"{} x", b"{}\x00", b"[1,]", b'{"a":1,}', b"[01]", b"[1.]", b"[.1]", b"[+1]", b"[True]", b'["\x01"]', b'["\\x"]',
    b'["\xff"]', b'["\xed\xa0\x80"]', b'["\xc0\x80"]', b'{"\xff": 1}', b"\x0c[1]", b"[" + b"9" * 4301 + b"]", b'{"a"', b"[",
    b"\xef\xbb\xbf\xef\xbb\xbf{}",
])
def test_malformed_bodies_fail_with_the_standard_library_message(body):
    message = same_both_ways(decode._parse_json, body)
    assert message.startswith("DecodeError: EM returned malformed JSON: ")


@pytest.mark.parametrize("body, expected", [
    (b'{"a": 1, "b": 2, "a": 3}', {"a": 3, "b": 2}),  # duplicate keys: the last wins, at the first one's place
    (b"[18446744073709551616, -9223372036854775809]", [18446744073709551616, -9223372036854775809]),
    (b"[0.1, -0.0, 1E5, 1e-400, 4.9e-324, 123456789012345678901234567890.0]", [0.1, -0.0, 1e5, 0.0, 5e-324, 1.2345678901234568e29]),
    (b'["\\ud83d\\ude00", "\\u00e9", "\xc3\xa9", "\\u0000", "\\/"]', ["\U0001F600", "\xe9", "\xe9", "\x00", "/"]),
])
def test_values_msgspec_reads_are_the_standard_library_values(body, expected, stdlib_calls):
    fast = same_both_ways(decode._parse_json, body)
    assert fast == repr(expected)
    stdlib_calls.clear()
    outcome(decode._parse_json, body, fast=True)
    assert stdlib_calls == []


@pytest.mark.parametrize("opener, closer", [(b"[", b"]"), (b'{"a":', b"}")])
def test_nesting_limit_is_the_standard_library_one(opener, closer):
    """A body nested too deeply for the standard library fails with msgspec on as well, whatever the depth."""
    outcomes = set()
    limit = sys.getrecursionlimit()
    for depth in range(limit - 300, limit + 50):
        result = same_both_ways(decode._parse_json, opener * depth + b"1" + closer * depth)
        outcomes.add(result == "RecursionError")
    assert outcomes == {True, False}  # the range crosses the limit


def test_nesting_limit_error_is_unchanged():
    deep = b"[" * 100000 + b"]" * 100000
    assert same_both_ways(decode.decode_query_page, deep, JSON) == "DecodeError: EM's response could not be decoded: RecursionError"


JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10 ** 18) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=20).map(json.dumps)


@settings(max_examples=300, deadline=None)
@given(JSON_TEXT, st.booleans())
def test_arbitrary_documents_read_the_same(text, bom):
    body = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass")
    same_both_ways(decode._parse_json, body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64).map(lambda tail: b'{"Entities": ' + tail))
def test_arbitrary_bytes_read_the_same(body):
    same_both_ways(decode._parse_json, body)
