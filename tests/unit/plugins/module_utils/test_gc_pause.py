# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gc_paused: collection is off inside the block, restored after it (also on errors), and a caller's choice is kept."""

from __future__ import annotations

import gc

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.gc_pause import gc_paused
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, run_query


@pytest.fixture(autouse=True)
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_restored_after():
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_when_the_block_raises():
    with pytest.raises(RuntimeError):
        with gc_paused():
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled():
    gc.disable()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()


class _Iterator:
    """Stands in for QueryIterator: records whether the collector ran while records were consumed."""

    passes = 1
    total = 2

    def __init__(self):
        self.states = []
        self.closed = False

    def __iter__(self):
        for uid in ("a", "b"):
            self.states.append(gc.isenabled())
            yield {"uid": uid, "result": "Success"}

    def close(self):
        self.closed = True


class _Client:
    stats = {"query_requests": 1}

    def __init__(self):
        self.iterator = _Iterator()

    def iter_query(self, spec):
        return self.iterator


def test_run_query_collects_records_with_the_collector_paused():
    client = _Client()
    result = run_query(client, prepare_cdp_query({}))
    assert [record["uid"] for record in result["sessions"]] == ["a", "b"]
    assert client.iterator.states == [False, False]
    assert client.iterator.closed
    assert gc.isenabled()


def test_run_query_restores_the_collector_when_paging_fails():
    class _Failing(_Iterator):
        def __iter__(self):
            yield {"uid": "a", "result": "Success"}
            raise RuntimeError("EM went away")

    client = _Client()
    client.iterator = _Failing()
    with pytest.raises(RuntimeError):
        run_query(client, prepare_cdp_query({}))
    assert gc.isenabled()
    assert client.iterator.closed
