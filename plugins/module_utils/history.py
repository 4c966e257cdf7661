# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit history as the modules use it: record an audit, or read trends, each in one call.

The pieces: history_backends.py (store URL, SQLite / PostgreSQL connections), history_store.py (schema,
migrations, writing and reading audits), history_drift.py (audit scope, drift), history_trends.py (trends).
"""

from __future__ import annotations

from .history_backends import HistoryStoreError, mask_url, url_password
from .history_drift import audit_scope, drift, drift_counts
from .history_store import SCHEMA_VERSION, HistoryStore, scope_key
from .history_trends import DEFAULT_DAYS, load_trends, public_audit

__all__ = ["DEFAULT_DAYS", "HistoryStoreError", "audit_scope", "drift_counts", "mask_url", "read_trends", "record_audit", "url_password"]


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
