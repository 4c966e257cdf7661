# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_floor.py's engine pass on fake pages: every record once, in creation order, the first answer reversed."""

from __future__ import annotations

import json

import audit_floor


def body(uids, pages_count=3):
    items = [{"UID": uid, "CreationTimeUTC": "2026-10-%02dT00:00:00Z" % uid} for uid in uids]
    return json.dumps({"Entities": {"CdpReplicaTaskSessions": {"CdpReplicaTaskSessions": items}},
                       "PagingInfo": {"PagesCount": pages_count}}).encode("utf-8")


class Evaluator:
    def __init__(self):
        self.uids = []

    def add_session(self, record):
        self.uids.append(record["uid"])


def normalise(item):
    return {"uid": item["UID"]}


def test_page_items():
    assert audit_floor.page_items(json.loads(body([1, 2]))) == ([{"UID": 1, "CreationTimeUTC": "2026-10-01T00:00:00Z"},
                                                                 {"UID": 2, "CreationTimeUTC": "2026-10-02T00:00:00Z"}], 3)
    assert audit_floor.page_items({}) == ([], None)


def test_every_record_once_in_creation_order():
    evaluator = Evaluator()
    # Pages 1 and 2 ascending, then the newest-first first answer, which overlaps page 2.
    seconds, sessions = audit_floor.evaluate([body([1, 2, 3]), body([4, 5, 6]), body([8, 7, 6])], evaluator, normalise, True)
    assert evaluator.uids == [1, 2, 3, 4, 5, 6, 7, 8] and sessions == 8
    assert set(seconds) == {"decode_s", "normalise_s", "evaluate_s"} and all(value >= 0 for value in seconds.values())


def test_a_single_page_keeps_its_order():
    evaluator = Evaluator()
    audit_floor.evaluate([body([3, 2, 1], 1)], evaluator, normalise, False)
    assert evaluator.uids == [3, 2, 1]


def test_the_given_parser_reads_the_bodies():
    evaluator = Evaluator()
    read = []

    def loads(text):
        read.append(text)
        return json.loads(text)

    audit_floor.evaluate([body([1, 2], 1)], evaluator, normalise, False, loads)
    assert read == [body([1, 2], 1)] and evaluator.uids == [1, 2]


def test_fastest_loads_reads_json():
    assert audit_floor.fastest_loads()(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
