# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""records.fold_task_session, the audit's lean normaliser: the evaluator fed with it reports exactly what it reports
when fed with normalise_task_session, on the golden fixture, simulator data and odd sessions."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.audit import prepare_audit, run_audit
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import ComplianceEvaluator
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import decode_query_page
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import DecodeError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import fold_task_session, normalise_task_session
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.timeutil import em_epoch
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.data import Dataset
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.render import Renderer
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import FIXED_NOW, fixture_bytes
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_decode import seed_as_em_sends_it

NOW = "2026-11-01T00:00:00Z"
WINDOW = {"start": "2026-10-27T00:00:00Z", "end": NOW}
FOLDED_ONLY = ("start_s", "end_s")
NOT_FOLDED = ("href", "total_size", "duration_seconds")


def simulator_items(camel=False):
    """Raw task-session items as the simulator serves them (JSON, PascalCase or camelCase, and XML)."""
    dataset = Dataset(seed=11, vms=25, days=6, interval_hours=3, now=NOW, profile="realistic")
    renderer = Renderer(dataset, "https://em.example:9398", camel=camel)
    items = [json.loads(renderer.task_fragment(index, "entities", True)) for index in range(len(dataset.tasks))]
    xml = ('<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><CdpReplicaTaskSessions>%s</CdpReplicaTaskSessions>'
           '</Entities></QueryResult>' % "".join(renderer.task_fragment(index, "entities", False) for index in range(len(dataset.tasks))))
    return items, decode_query_page(xml.encode("utf-8"), "application/xml").items


ODD_TIMES = ["2026-10-30T10:00:00Z", "2026-10-30T10:00:00.1234567Z", "2026-10-30T10:00:00.5Z", "2026-10-30T10:00:00.000Z",
             "2026-10-30T10:00:00.0001Z", "2026-10-30T12:00:00+02:00", "2026-10-30T10:00:00.123456-00:30", "2026-10-30 10:00:00",
             "2026-10-30", "2026-10-30T10:00:00z", " 2026-10-30T10:00:00Z ", "0999-06-01T00:00:00+00:00", "0001-01-01T00:00:00Z",
             "9999-12-31T23:59:59.9999999Z", "", None]


def odd_items(template):
    """Variations of one raw item: times in every form EM or a proxy might write, missing fields, open sessions."""
    items = []
    for created in ODD_TIMES:
        for ended in ("2026-10-30T11:00:00.250Z", None, "2026-10-30T09:00:00Z", "2026-10-30T13:00:00+01:00", "0999-06-01T00:00:00+00:00"):
            item = dict(template, CreationTimeUTC=created, EndTimeUTC=ended)
            items.append(item)
            items.append(dict(item, State="InProgress", Result="None"))
    for state in ("InProgress", "Pending", "inprogress", "PENDING", "Stopped", None, ""):
        items.append(dict(template, State=state, EndTimeUTC=None, CreationTimeUTC="2026-10-31T20:00:00Z"))
        items.append(dict(template, State=state, EndTimeUTC=None, CreationTimeUTC="2026-10-20T20:00:00Z"))
    for result in ("Failed", "Warning", "Success", None):
        items.append(dict(template, Result=result, Reason="disk full" if result else ""))
    for missing in ("VmDisplayName", "Name", "Links", "PolicySessionUid", "UID", "State", "Result", "CreationTimeUTC", "EndTimeUTC"):
        items.append({key: value for key, value in template.items() if key != missing})
    items.append(dict(template, VmDisplayName="  ", Name="vm-x@2026-10-30 10:00:00"))
    items.append(dict(template, VmDisplayName=None, Name=None))
    items.append(dict(template, Links=[{"rel": "Up", "type": "BackupServerReference", "href": "https://em/api/backupServers/abc/", "name": "b"}]))
    items.append(dict(template, Links="not a list"))
    items.append(dict(template, Links=[{"Rel": "Up", "Type": "BackupServerReference", "Href": "https://em/api/backupServers/?x=1", "Name": ""}]))
    items.append(dict(template, TotalSize="12x", Href=5))
    items.append({key[0].lower() + key[1:]: value for key, value in template.items()})
    return items


def evaluate(items, normalise, **options):
    """The report (generated_at left out) of an evaluator fed items through normalise; a DecodeError ends it."""
    evaluator = ComplianceEvaluator(now=NOW, window=WINDOW, **options)
    for raw in items:
        try:
            record = normalise(raw)
        except DecodeError as exc:
            evaluator.add_session({"name": "decode error: %s" % exc.message})
            continue
        evaluator.add_session(record)
    report = evaluator.finish()
    report.pop("generated_at")
    report["evidence"].pop("generated_at")
    return report


def assert_same_record(raw):
    """fold_task_session(raw) is normalise_task_session(raw) without what the evaluator does not read, plus the times in seconds."""
    try:
        full = normalise_task_session(raw)
    except DecodeError as exc:
        with pytest.raises(DecodeError) as caught:
            fold_task_session(raw)
        assert caught.value.message == exc.message
        return
    folded = fold_task_session(raw)
    assert {key: value for key, value in folded.items() if key not in FOLDED_ONLY} == {
        key: value for key, value in full.items() if key not in NOT_FOLDED}
    assert folded["start_s"] == em_epoch(full["creation_time_utc"])
    assert folded["end_s"] == em_epoch(full["end_time_utc"])


def test_golden_fixture():
    for body, content_type in ((seed_as_em_sends_it(), "application/xml"), (fixture_bytes("seed_query_result_pascal.json"), "application/json"),
                               (fixture_bytes("seed_query_result_camel.json"), "application/json")):
        items = decode_query_page(body, content_type, "CdpReplicaTaskSessions").items
        assert len(items) == 3
        for raw in items:
            assert_same_record(raw)
        options = {"now": "2021-06-15T00:00:00Z", "window": {"start": "2021-06-01T00:00:00Z", "end": "2021-06-15T00:00:00Z"}}
        full, folded = ComplianceEvaluator(**options), ComplianceEvaluator(**options)
        full.add_sessions(map(normalise_task_session, items))
        folded.add_sessions(map(fold_task_session, items))
        reports = [full.finish(), folded.finish()]
        for report in reports:
            report.pop("generated_at")
            report["evidence"].pop("generated_at")
        assert reports[0] == reports[1]
        assert reports[0]["summary"]["sessions"] == 3


@pytest.mark.parametrize("camel", [False, True])
def test_simulator_sessions(camel):
    json_items, xml_items = simulator_items(camel)
    assert len(json_items) > 500
    for items in (json_items, xml_items):
        for raw in items[:300]:
            assert_same_record(raw)
        full = evaluate(items, normalise_task_session)
        assert full == evaluate(items, fold_task_session)
        assert full["summary"]["sessions"] == len(items)
        assert {item["status"] for item in full["vms"]} >= {"compliant", "non_compliant"}


@pytest.mark.parametrize("options", [
    {},
    {"rules": {"stuck": {"max_task_duration": 3600, "max_pending": 600}}, "expected_vms": ["vm-*", "nowhere-*"]},
    {"rules": {"coverage": {"max_gap": 60}, "rpo": {"target": 30}}},
])
def test_odd_sessions(options):
    json_items, xml_items = simulator_items()
    odd = odd_items(json_items[len(json_items) // 2]) + odd_items(xml_items[-1])
    for raw in odd:
        assert_same_record(raw)
    items = json_items[:400] + odd + xml_items[-200:]
    full = evaluate(items, normalise_task_session, **options)
    assert full == evaluate(items, fold_task_session, **options)
    assert full["data"]["issues"] == ["invalid_sessions"]  # the odd sessions include some without a creation time


TIME_TEXT = st.builds(
    lambda moment, digits, offset, separator: "%s%s%s%s" % (
        moment.strftime("%Y-%m-%d"), separator, moment.strftime("%H:%M:%S"),
        ("." + ("%06d" % moment.microsecond + "9")[:digits] if digits else "") + offset),
    st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)),
    st.integers(0, 7), st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", ""]), st.sampled_from(["T", " "]))


@settings(max_examples=500, deadline=None)
@given(TIME_TEXT, st.one_of(st.none(), TIME_TEXT))
def test_any_time_text(created, ended):
    assert_same_record({"UID": "urn:veeam:CdpReplicaTaskSession:x", "CreationTimeUTC": created, "EndTimeUTC": ended, "Links": []})


def test_the_audit_reports_the_same_with_either_normaliser(em_sim):
    plan = prepare_audit({"now": FIXED_NOW, "window_start": "-48h", "window_end": "now", "page_size": 5})
    assert plan.task_spec.normalise is fold_task_session
    reports = []
    for spec in (plan.task_spec, dataclasses.replace(plan.task_spec, normalise=normalise_task_session)):
        this = prepare_audit({"now": FIXED_NOW, "window_start": "-48h", "window_end": "now", "page_size": 5})
        with EmClient(em_sim.config(workers=2), backoff_base=0) as client:
            result = run_audit(client, dataclasses.replace(this, task_spec=spec))
        result["report"].pop("generated_at")
        result["report"]["evidence"].pop("generated_at")
        reports.append(result)
    assert reports[0] == reports[1]
    assert reports[0]["counts"]["task_sessions"] > 10
