# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit.prepare_audit / run_audit against the TLS simulator: what is read (policies, the policy sessions of the
lookback, older ones the window's tasks point at, in chunks), truncation by max_records, and the counts."""

from __future__ import annotations

import datetime
from urllib.parse import parse_qsl

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import audit
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.audit import AuditPlan, prepare_audit, run_audit
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, prepare_generic_query, run_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.timeutil import parse_em_time
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import FIXED_NOW

PAGE = 7


def audit_params(**overrides):
    params = {"now": FIXED_NOW, "window_start": "-24h", "window_end": "now", "page_size": PAGE}
    params.update(overrides)
    return params


def run(sim, **overrides):
    plan = prepare_audit(audit_params(**overrides))
    with EmClient(sim.config(workers=2), backoff_base=0) as client:
        result = run_audit(client, plan)
    return plan, result


def everything(sim):
    """Every task session and policy session the simulator holds, read with the query front end."""
    with EmClient(sim.config(), backoff_base=0) as client:
        tasks = run_query(client, prepare_cdp_query({}))["sessions"]
        policy_sessions = run_query(client, prepare_generic_query({"type": "CdpReplicaSession"}))["records"]
        policies = run_query(client, prepare_generic_query({"type": "CdpPolicy"}))["records"]
    sim.requests.clear()
    return tasks, policy_sessions, policies


def in_window(tasks, plan):
    start, end = plan.start, plan.end
    return [task for task in tasks if parse_em_time(task["creation_time_utc"]) <= end
            and (task["state"] != "Completed" or parse_em_time(task["end_time_utc"]) >= start)]


def recent(policy_sessions, plan):
    lookback = plan.start - audit.POLICY_SESSION_LOOKBACK
    return {record["uid"] for record in policy_sessions if parse_em_time(record["creation_time_utc"]) <= plan.end
            and (parse_em_time(record["creation_time_utc"]) >= lookback or record["state"] != "Stopped")}


def id_filters(sim):
    """The distinct filters by Id that were sent, without the snapshot pin paging adds."""
    filters = [dict(parse_qsl(request["query"])).get("filter", "").split(";CreationTimeUTC<=")[0] for request in sim.query_requests()]
    return sorted({text for text in filters if text.startswith("Id==") or text.startswith("(Id==")})


def test_reads_policies_recent_policy_sessions_and_the_windows_tasks(em_sim):
    tasks, policy_sessions, policies = everything(em_sim)
    plan, result = run(em_sim)
    window_tasks = in_window(tasks, plan)
    expected_sessions = recent(policy_sessions, plan)
    # The lookback covers every policy session the window's tasks point at: nothing is asked for by Id.
    assert {task["policy_session_uid"] for task in window_tasks} <= expected_sessions
    assert id_filters(em_sim) == []
    assert result["counts"] == {"policies": len(policies), "policy_sessions": len(expected_sessions), "task_sessions": len(window_tasks)}
    assert 0 < len(window_tasks) < len(tasks) and len(expected_sessions) < len(policy_sessions)
    report = result["report"]
    assert report["summary"]["sessions"] == len(window_tasks) and report["summary"]["policies"] == len(policies)
    assert result["truncated"] is False and report["data"]["truncated"] is False
    assert result["window"] == {"start": "2025-06-19T12:00:00Z", "end": "2025-06-20T12:00:00Z"}
    assert result["pages"] == len(em_sim.query_requests())
    evidence = report["evidence"]
    assert evidence["records_read"] == result["counts"] and evidence["query"]["total_reported"] == len(window_tasks)
    assert evidence["query"]["type"] == "CdpReplicaTaskSession" and evidence["query"]["snapshot_creation_time_utc"]


def test_older_policy_sessions_are_asked_for_by_uid_in_chunks(em_sim, monkeypatch):
    tasks, policy_sessions, dummy = everything(em_sim)
    # No lookback: the stopped policy sessions that owned the window's first tasks are then only found by their UIDs.
    monkeypatch.setattr(audit, "POLICY_SESSION_LOOKBACK", datetime.timedelta(0))
    monkeypatch.setattr(audit, "UID_CHUNK", 1)
    plan, result = run(em_sim)
    read_first = recent(policy_sessions, plan)
    missing = {task["policy_session_uid"] for task in in_window(tasks, plan)} - read_first
    assert len(missing) >= 2
    assert result["counts"]["policy_sessions"] == len(read_first) + len(missing)
    assert result["report"]["evidence"]["policy_sessions_received"] == len(read_first) + len(missing)
    filters = id_filters(em_sim)
    assert len(filters) == len(missing) and all(filter_text.count("Id==") == 1 for filter_text in filters)
    assert sorted(uid for filter_text in filters for uid in missing if uid in filter_text) == sorted(missing)


def test_max_records_truncates_the_task_sessions(em_sim):
    plan, result = run(em_sim, max_records=3)
    assert plan.max_records == 3
    assert result["truncated"] is True and result["counts"]["task_sessions"] == 3
    report = result["report"]
    assert report["data"]["truncated"] is True and report["evidence"]["truncated"] is True and report["summary"]["sessions"] == 3


def test_without_policies_only_task_sessions_are_read(em_sim):
    plan, result = run(em_sim, include_policies=False, vm_display_name=["Finance DB 01", "web;01,a+b"])
    assert result["counts"]["policies"] == result["counts"]["policy_sessions"] == 0
    types = {dict(parse_qsl(request["query"]))["type"] for request in em_sim.query_requests()}
    assert types == {"CdpReplicaTaskSession"}
    assert {vm["name"] for vm in result["report"]["vms"]} <= {"Finance DB 01", "web;01,a+b"}
    assert 'VmDisplayName=="Finance DB 01"' in plan.task_spec.filter_expression


def test_prepare_audit_builds_the_plan():
    plan = prepare_audit(audit_params(window_start="2025-06-20T00:00:00Z", response_format="xml", include_policies=False))
    assert isinstance(plan, AuditPlan)
    assert (plan.start, plan.end) == (datetime.datetime(2025, 6, 20, tzinfo=datetime.timezone.utc),
                                      datetime.datetime(2025, 6, 20, 12, tzinfo=datetime.timezone.utc))
    spec = plan.task_spec
    assert (spec.query_type, spec.plural, spec.pin_field, spec.sort_field, spec.page_size, spec.response_format) == (
        "CdpReplicaTaskSession", "CdpReplicaTaskSessions", "CreationTimeUTC", "CreationTimeUTC", PAGE, "xml")
    assert spec.filter_expression.startswith('CreationTimeUTC<="2025-06-20T12:00:00Z";(EndTimeUTC>="2025-06-20T00:00:00Z",')
    assert plan.include_policies is False and plan.max_records is None


@pytest.mark.parametrize("params, option", [({"page_size": 0}, "page_size"), ({"max_records": 0}, "max_records"),
                                            ({"vm_display_name": []}, "vm_display_name"), ({"window_start": "soon"}, "window_start")])
def test_bad_options_fail_before_any_request(params, option):
    with pytest.raises(InvalidInputError) as info:
        prepare_audit(audit_params(**params))
    assert info.value.details["option"] == option
