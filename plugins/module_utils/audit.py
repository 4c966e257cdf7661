# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CDP compliance audit: gather policies, policy sessions and the window's task sessions, evaluate while pages stream.

Task sessions are folded into the evaluator one by one as pages arrive, so a million of them
never exist as a list, let alone as Ansible facts; only the report comes back.

The two entry points:

- ``prepare_audit(params) -> AuditPlan`` validates the audit options (those of cdp_compliance_info) before
  any request and raises InvalidInputError (ComplianceConfigError for rules/waivers) on bad input.
- ``run_audit(client, plan) -> dict`` runs the plan with an EmClient and returns
  ``{report, truncated, pages, counts: {policies, policy_sessions, task_sessions}, window: {start, end}}``.

Policies and policy sessions are evidence, not the audit itself: when EM answers their queries with an error
(or not in time) and policy_data is "optional", the task sessions are still read and judged with the rule
defaults, and the report says what EM answered (evidence.policy_data, data.issues "policy_data_unavailable").
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Optional

from .compliance import ComplianceEvaluator
from .compliance_config import DEFAULT_WINDOW_START, ComplianceConfigError, resolve_window
from .em_types import CDP_POLICY, CDP_POLICY_SESSION, CDP_TASK_SESSION, query_spec
from .errors import ApiError, CommunicationError, TLSError
from .filters import all_of, any_of, comparison, wrap_raw
from .paging import QueryIterator, QuerySpec
from .query import paging_limits, text_values
from .records import fold_task_session
from .timeutil import format_utc
from .version import COLLECTION_VERSION

# Policy sessions restart every 24 h; a task session can point at one opened before the window.
POLICY_SESSION_LOOKBACK = datetime.timedelta(days=2)
UID_CHUNK = 40


@dataclasses.dataclass
class AuditPlan:
    """A validated audit: the evaluator to feed, the task-session query, and the window and limits."""

    evaluator: ComplianceEvaluator
    task_spec: QuerySpec
    start: datetime.datetime
    end: datetime.datetime
    now: datetime.datetime
    max_records: Optional[int] = None
    include_policies: bool = True
    policy_data: str = "optional"

    def spec(self, em_type, filter_expression=""):
        """A query of policies or policy sessions, paged and read as the task-session query is."""
        return query_spec(em_type.name, filter_expression, page_size=self.task_spec.page_size,
                          response_format=self.task_spec.response_format)


def prepare_audit(params):
    """Validate the audit options before any request; returns an AuditPlan."""
    page_size, max_records = paging_limits(params)
    now, start, end = _window(params)
    scope_terms = []
    for option, field in (("vm_display_name", "VmDisplayName"), ("backup_server_name", "BackupServerName")):
        if params.get(option) is not None:
            scope_terms.append(any_of([comparison(field, "==", value) for value in text_values(option, params[option])]))
    scope_terms.append(wrap_raw(params.get("filter")))
    # Sessions overlapping the window: created before it ends, and ended after it starts or still open.
    window_terms = [comparison("CreationTimeUTC", "<=", end), any_of([comparison("EndTimeUTC", ">=", start), comparison("State", "!=", "Completed")])]
    # The evaluator keeps no record: fold_task_session builds only what it reads.
    task_spec = query_spec(CDP_TASK_SESSION.name, all_of(window_terms + scope_terms), sort_field="CreationTimeUTC", page_size=page_size,
                           response_format=params.get("response_format") or "json", normalise=fold_task_session)
    evaluator = ComplianceEvaluator(rules=params.get("rules"), now=now, window={"start": start, "end": end},
                                    expected_vms=params.get("expected_vms"), waivers=params.get("waivers"))
    return AuditPlan(evaluator, task_spec, start, end, now, max_records, params.get("include_policies", True),
                     params.get("policy_data") or "optional")


# The engine names the keys of its window dict; the audit's options are window_start and window_end.
_WINDOW_OPTIONS = {"window.start": "window_start", "window.end": "window_end", "window": "window_start"}


def _window(params):
    window = {"start": params.get("window_start") or DEFAULT_WINDOW_START, "end": params.get("window_end") or "now"}
    try:
        return resolve_window(window, params.get("now"))
    except ComplianceConfigError as exc:
        if exc.option not in _WINDOW_OPTIONS:
            raise
        problem = exc.message.split(": ", 1)[-1]
        raise ComplianceConfigError(_WINDOW_OPTIONS[exc.option], problem) from None


def run_audit(client, plan):
    """Run the audit against EM; returns the report plus paging facts (see the module docstring)."""
    counts = {"policies": 0, "policy_sessions": 0, "task_sessions": 0}
    policy_data = {"available": plan.include_policies, "error": None}
    policy_session_uids = _policy_evidence(client, plan, policy_data, _read_policies, counts) or set()
    iterator = QueryIterator(client, plan.task_spec)
    referenced, truncated = _read_task_sessions(iterator, plan, counts)
    if policy_data["available"]:
        # Policy sessions older than the lookback that the window's tasks still point at.
        missing = sorted(uid for uid in referenced - policy_session_uids if uid)
        _policy_evidence(client, plan, policy_data, _read_policy_sessions_by_uid, missing, counts)
    evaluator = plan.evaluator
    evaluator.mark_truncated(truncated)
    spec = plan.task_spec
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
    # The inventory's per-backup-server evaluator finishes with (key, report) pairs, one report per backup server.
    for each in (pair[1] for pair in report) if isinstance(report, list) else (report,):
        _mark_policy_data(each, policy_data)
    return {"report": report, "truncated": truncated, "pages": client.stats["query_requests"], "counts": counts,
            "window": {"start": format_utc(plan.start), "end": format_utc(plan.end)}}


def _policy_evidence(client, plan, policy_data, read, *args):
    """read(client, plan, *args), unless policy data is off or already unavailable; an EM error makes it unavailable
    (policy_data: optional) or fails the audit (required). An EM that did not answer at all is not this case."""
    if not policy_data["available"]:
        return None
    try:
        return read(client, plan, *args)
    except (ApiError, CommunicationError) as exc:
        answered = isinstance(exc, ApiError) or exc.details.get("timeout") is not None
        if plan.policy_data == "required" or isinstance(exc, TLSError) or not answered:
            raise
        policy_data.update(available=False, error={"status": getattr(exc, "status", None),
                                                   "message": getattr(exc, "em_message", None) or exc.message})
        client.log("policy data unavailable: %s" % policy_data_text(policy_data["error"]))
        return None


def policy_data_text(error):
    """'403 Access denied.' from evidence.policy_data.error."""
    return " ".join(str(part) for part in (error.get("status"), error.get("message")) if part)


def _mark_policy_data(report, policy_data):
    report["evidence"]["policy_data"] = dict(policy_data)
    if policy_data["error"] is None:
        return
    note = "policy data unavailable: %s" % policy_data_text(policy_data["error"])
    report["evidence"]["policy_data"]["note"] = note
    data = report["data"]
    data["issues"] = list(data.get("issues") or []) + ["policy_data_unavailable"]
    data["complete"] = False
    # As compliance_report.verdict_of decides for any data issue; each VM keeps its own status.
    report["verdict"] = "incomplete"
    for vm in report.get("vms", ()):
        vm["policy_data"] = note


def _read_policies(client, plan, counts):
    """Every policy, and the policy sessions that can own the window's tasks; returns those sessions' UIDs."""
    for policy in QueryIterator(client, plan.spec(CDP_POLICY)):
        plan.evaluator.add_policy(policy)
        counts["policies"] += 1
    lookback = plan.start - POLICY_SESSION_LOOKBACK
    recent = all_of([comparison("CreationTimeUTC", "<=", plan.end),
                     any_of([comparison("CreationTimeUTC", ">=", lookback), comparison("State", "!=", "Stopped")])])
    uids = set()
    for record in QueryIterator(client, plan.spec(CDP_POLICY_SESSION, recent)):
        plan.evaluator.add_policy_session(record)
        uids.add(record.get("uid"))
        counts["policy_sessions"] += 1
    return uids


def _read_task_sessions(iterator, plan, counts):
    """Stream the window's task sessions into the evaluator, up to max_records; returns (policy session UIDs, truncated)."""
    referenced = set()
    cap = plan.max_records
    add_session = plan.evaluator.add_session
    try:
        for record in iterator:
            if cap is not None and counts["task_sessions"] >= cap:
                return referenced, True
            add_session(record)
            counts["task_sessions"] += 1
            if record["policy_session_uid"]:
                referenced.add(record["policy_session_uid"])
    finally:
        iterator.close()
    return referenced, False


def _read_policy_sessions_by_uid(client, plan, uids, counts):
    for index in range(0, len(uids), UID_CHUNK):
        chunk = any_of([comparison("Id", "==", uid) for uid in uids[index:index + UID_CHUNK]])
        for record in QueryIterator(client, plan.spec(CDP_POLICY_SESSION, chunk)):
            plan.evaluator.add_policy_session(record)
            counts["policy_sessions"] += 1
