# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit history as the modules use it: record an audit, or read trends, each in one call.

The pieces: history_backends.py (store URL, SQLite / PostgreSQL connections), history_store.py (schema,
migrations, writing and reading audits), history_drift.py (audit scope, drift), history_trends.py (trends).
"""

from __future__ import annotations

import re

from .errors import InvalidInputError
from .history_backends import HistoryStoreError, connection_for, mask_url, url_password
from .history_drift import audit_scope, drift, drift_counts
from .history_store import SCHEMA_VERSION, HistoryStore, scope_key
from .history_trends import DEFAULT_DAYS, load_trends, public_audit

__all__ = ["DEFAULT_DAYS", "HistoryStoreError", "audit_scope", "check_history_options", "drift_counts", "hide_url_password", "mask_url",
           "read_trends", "record_audit", "record_in_history"]


def check_history_options(params, option="history", days_option=None):
    """Validate the store option (and a trend days option) before anything is read; returns the store or None.

    A password inside the URL is refused: Ansible would log the option's value; the password belongs in
    ``history_password`` (no_log) or libpq's PGPASSWORD / PGPASSFILE.
    """
    store = params.get(option)
    if store is None:
        return None
    connection_for(store)  # raises InvalidInputError for an unknown form
    if url_password(store) or re.search(r"[?&]password=", store, re.IGNORECASE):
        raise InvalidInputError(option, "%s carries a password, which Ansible would log with the option's value." % mask_url(store),
                                "Leave it out of the URL and give it in history_password, or in the PGPASSWORD or PGPASSFILE environment.")
    if days_option and (params.get(days_option) is None or params[days_option] < 0):
        raise InvalidInputError(days_option, "%r is not a number of days (0 leaves trends out)." % (params.get(days_option),), "For example 90.")
    return store


def hide_url_password(module, option="history"):
    """Mark a password written into the store URL as a secret of ``module`` (an AnsibleModule), so no output shows it."""
    secret = url_password(module.params.get(option) or "")
    if secret:
        module.no_log_values.add(secret)
    for match in re.finditer(r"[?&]password=([^&#]+)", module.params.get(option) or "", re.IGNORECASE):
        module.no_log_values.add(match.group(1))


def record_in_history(params, result, em_hosts):
    """Record ``result['report']`` when ``params['history']`` is set (options group "history"); returns the result with the
    report's drift, trends and history added and ``drift_counts`` beside it.

    A store failure raises HistoryStoreError that carries the result's keys too (the report first), so a failed task
    still returns the audit.
    """
    if not params.get("history"):
        return result
    try:
        report = record_audit(params["history"], result["report"], audit_scope(em_hosts, params), password=params.get("history_password"),
                              trend_days=params.get("history_trend_days", DEFAULT_DAYS))
    except HistoryStoreError as exc:
        exc.details.update(result)
        raise
    return dict(result, report=report, drift_counts=drift_counts(report["drift"]))


def record_audit(url, report, scope, password=None, trend_days=DEFAULT_DAYS):
    """Append ``report`` to the store; return a copy of it with ``drift``, ``trends`` and ``history`` added.

    Drift compares with the latest earlier audit of the same scope; trends cover the ``trend_days`` days up to
    the audit's own time, this audit included (0: no trends). Raises HistoryStoreError naming the masked store.
    """
    key = scope_key(scope)
    audited_at = report.get("now") or report.get("generated_at")
    with HistoryStore(url, password) as store:
        previous = store.previous_audit(key, audited_at)
        stored = store.append_audit(report, scope)
        trend = load_trends(store, trend_days, now=audited_at, scope=key)[0] if trend_days else None
    history = {"store": store.masked_url, "schema_version": SCHEMA_VERSION, "audit_id": stored["id"], "scope_key": key,
               "evidence_sha256": stored["evidence_sha256"]}
    return dict(report, drift=drift(previous, report), trends=trend, history=history)


def read_trends(url, password=None, days=DEFAULT_DAYS, now=None, scope=None, em_hosts=None, vms=None, policies=None):
    """{store, schema_version, trends, audits} of the last ``days`` days (see history_trends.load_trends)."""
    with HistoryStore(url, password) as store:
        result, audits = load_trends(store, days, now=now, scope=scope, em_hosts=em_hosts, vms=vms, policies=policies)
    return {"store": store.masked_url, "schema_version": SCHEMA_VERSION, "trends": result, "audits": [public_audit(audit) for audit in audits]}
