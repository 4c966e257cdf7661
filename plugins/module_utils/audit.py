# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CDP compliance audit: gather policies, policy sessions and the window's task sessions, evaluate while pages stream.

Task sessions are folded into the evaluator one by one as pages arrive, so a million of them
never exist as a list, let alone as Ansible facts; only the report comes back.
"""

from __future__ import annotations

import datetime

from .client import QuerySpec
from .compliance import ComplianceEvaluator
from .compliance_config import resolve_window
from .filters import all_of, any_of, comparison, wrap_raw
from .query import paging_limits, text_values
from .records import normalise_generic, normalise_task_session
from .timeutil import format_utc
from .version import COLLECTION_VERSION

# Policy sessions restart every 24 h; a task session can point at one opened before the window.
POLICY_SESSION_LOOKBACK = datetime.timedelta(days=2)
UID_CHUNK = 40


def prepare_audit(params):
    """Validate the audit options before any request; returns (evaluator, task query spec, settings)."""
    page_size, max_records = paging_limits(params)
    window = {"start": params.get("window_start") or "-24h", "end": params.get("window_end") or "now"}
    now, start, end = resolve_window(window, params.get("now"))
    scope_terms = []
    for option, field in (("vm_display_name", "VmDisplayName"), ("backup_server_name", "BackupServerName")):
        if params.get(option) is not None:
            scope_terms.append(any_of([comparison(field, "==", value) for value in text_values(option, params[option])]))
    scope_terms.append(wrap_raw(params.get("filter")))
    # Sessions overlapping the window: created before it ends, and ended after it starts or still open.
    window_terms = [comparison("CreationTimeUTC", "<=", end), any_of([comparison("EndTimeUTC", ">=", start), comparison("State", "!=", "Completed")])]
    task_filter = all_of(window_terms + scope_terms)
    spec = QuerySpec("CdpReplicaTaskSession", task_filter, sort_field="CreationTimeUTC", page_size=page_size,
                     response_format=params.get("response_format") or "json", normalise=normalise_task_session,
                     plural="CdpReplicaTaskSessions", pin_field="CreationTimeUTC")
    evaluator = ComplianceEvaluator(rules=params.get("rules"), now=now, window={"start": start, "end": end},
                                    expected_vms=params.get("expected_vms"), waivers=params.get("waivers"))
    return evaluator, spec, {"start": start, "end": end, "now": now, "max_records": max_records,
                             "include_policies": params.get("include_policies", True)}


def _generic_spec(query_type, filter_expression, template, plural):
    return QuerySpec(query_type, filter_expression, sort_field=None, page_size=template.page_size, response_format=template.response_format,
                     normalise=normalise_generic, plural=plural, pin_field="CreationTimeUTC" if query_type == "CdpReplicaSession" else None)


def run_audit(client, evaluator, spec, settings):
    """Run the audit against EM; returns the report plus paging facts."""
    policy_session_uids = set()
    counts = {"policies": 0, "policy_sessions": 0, "task_sessions": 0}
    if settings["include_policies"]:
        for policy in client.iter_query(_generic_spec("CdpPolicy", "", spec, "CdpPolicies")):
            evaluator.add_policy(policy)
            counts["policies"] += 1
        lookback = settings["start"] - POLICY_SESSION_LOOKBACK
        recent = all_of([comparison("CreationTimeUTC", "<=", settings["end"]),
                         any_of([comparison("CreationTimeUTC", ">=", lookback), comparison("State", "!=", "Stopped")])])
        for record in client.iter_query(_generic_spec("CdpReplicaSession", recent, spec, "CdpReplicaSessions")):
            evaluator.add_policy_session(record)
            policy_session_uids.add(record.get("uid"))
            counts["policy_sessions"] += 1
    referenced = set()
    truncated = False
    cap = settings["max_records"]
    iterator = client.iter_query(spec)
    try:
        for record in iterator:
            if cap is not None and counts["task_sessions"] >= cap:
                truncated = True
                break
            evaluator.add_session(record)
            counts["task_sessions"] += 1
            if record["policy_session_uid"]:
                referenced.add(record["policy_session_uid"])
    finally:
        iterator.close()
    if settings["include_policies"]:
        # Policy sessions older than the lookback that running tasks still point at.
        missing = sorted(uid for uid in referenced - policy_session_uids if uid)
        for index in range(0, len(missing), UID_CHUNK):
            chunk = any_of([comparison("Id", "==", uid) for uid in missing[index:index + UID_CHUNK]])
            for record in client.iter_query(_generic_spec("CdpReplicaSession", chunk, spec, "CdpReplicaSessions")):
                evaluator.add_policy_session(record)
                counts["policy_sessions"] += 1
    evaluator.mark_truncated(truncated)
    evaluator.evidence.update({
        "em_host": client.base_url,
        "api_version": client.api_version,
        "query": {"type": spec.query_type, "filter": spec.filter_expression, "sort": "sortAsc=CreationTimeUTC", "page_size": spec.page_size,
                  "response_format": spec.response_format, "snapshot_creation_time_utc": iterator.pin, "total_reported": iterator.total},
        "collection_version": COLLECTION_VERSION,
        "truncated": truncated,
        "records_read": dict(counts),
        "query_requests": client.stats["query_requests"],
    })
    report = evaluator.finish()
    return {"report": report, "truncated": truncated, "pages": client.stats["query_requests"], "counts": counts,
            "window": {"start": format_utc(settings["start"]), "end": format_utc(settings["end"])}}
