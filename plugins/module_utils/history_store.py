# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit history store: schema and migrations, appending an audit, reading audits back.

One audit is written in one transaction (its row, one row per VM and per policy, one per finding),
so a crash mid-write leaves the store as it was, and concurrent writers queue (SQLite's write lock,
PostgreSQL's row-level concurrency). The schema is versioned: opening a store written by an older
collection applies the missing migrations, each in the same transaction as its version row.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time
import uuid

from .history_backends import HistoryStoreError, connection_for
from .timeutil import format_utc, parse_iso
from .version import COLLECTION_VERSION

STORED_KIND = "cdp_compliance_report"
# Keys the history adds to a report after it was stored; the evidence hash leaves them out.
DERIVED_KEYS = ("drift", "trends", "history")

# Each entry takes the store from version N-1 to N. Types are the common ground of SQLite and PostgreSQL.
MIGRATIONS = (
    (1, (
        """CREATE TABLE audits (
            id TEXT PRIMARY KEY, audited_at DOUBLE PRECISION NOT NULL, recorded_at DOUBLE PRECISION NOT NULL,
            window_start DOUBLE PRECISION NOT NULL, window_end DOUBLE PRECISION NOT NULL,
            scope_key TEXT NOT NULL, scope TEXT NOT NULL, em_hosts TEXT NOT NULL, verdict TEXT NOT NULL,
            collection_version TEXT, evidence_sha256 TEXT NOT NULL, vms INTEGER NOT NULL, policies INTEGER NOT NULL)""",
        "CREATE INDEX audits_scope_time ON audits (scope_key, audited_at)",
        "CREATE INDEX audits_time ON audits (audited_at)",
        """CREATE TABLE results (
            audit_id TEXT NOT NULL REFERENCES audits (id) ON DELETE CASCADE, kind TEXT NOT NULL, name TEXT NOT NULL, uid TEXT,
            status TEXT NOT NULL, in_scope INTEGER NOT NULL, coverage_percent DOUBLE PRECISION, worst_gap_seconds DOUBLE PRECISION,
            rpo_seconds DOUBLE PRECISION, violations INTEGER NOT NULL, warnings INTEGER NOT NULL, infos INTEGER NOT NULL,
            waived INTEGER NOT NULL)""",
        "CREATE INDEX results_audit ON results (audit_id)",
        """CREATE TABLE findings (
            audit_id TEXT NOT NULL REFERENCES audits (id) ON DELETE CASCADE, kind TEXT NOT NULL, name TEXT NOT NULL, uid TEXT,
            rule TEXT NOT NULL, code TEXT, severity TEXT NOT NULL, waived INTEGER NOT NULL, message TEXT)""",
        "CREATE INDEX findings_audit ON findings (audit_id)",
    )),
    # 2: per VM its policy and whether its RPO was breached, so trends and drift can say it without the report.
    (2, (
        "ALTER TABLE results ADD COLUMN policy TEXT",
        "ALTER TABLE results ADD COLUMN rpo_breached INTEGER",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
RESULT_COLUMNS = ("audit_id", "kind", "name", "uid", "status", "in_scope", "coverage_percent", "worst_gap_seconds", "rpo_seconds",
                  "violations", "warnings", "infos", "waived", "policy", "rpo_breached")
FINDING_COLUMNS = ("audit_id", "kind", "name", "uid", "rule", "code", "severity", "waived", "message")


def evidence_sha256(report):
    """SHA-256 of the report's canonical JSON (sorted keys, no spaces, UTF-8) without the keys the history adds."""
    core = {key: value for key, value in report.items() if key not in DERIVED_KEYS}
    text = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _epoch(text):
    return parse_iso(text).timestamp()


def _count(findings, severity):
    return sum(1 for finding in findings if not finding.get("waived") and finding.get("severity") == severity)


def result_rows(report, audit_id=None):
    """(results, findings) rows of a report, in RESULT_COLUMNS / FINDING_COLUMNS order."""
    results, findings = [], []
    targets = [("vm", vm, vm.get("name"), None) for vm in report.get("vms") or ()]
    targets += [("policy", policy, policy.get("name") or policy.get("uid"), policy.get("uid")) for policy in report.get("policies") or ()]
    for kind, entry, name, uid in targets:
        items = entry.get("findings") or ()
        if kind == "vm":
            gap, policy, breached = entry.get("worst_gap_seconds"), entry.get("policy"), int(bool(entry.get("rpo_breached")))
        else:
            gap, policy, breached = (entry.get("worst_breach") or {}).get("worst_gap_seconds"), None, int(bool(entry.get("rpo_breaches")))
        results.append((audit_id, kind, str(name), uid, entry.get("status"), int(bool(entry.get("in_scope", True))),
                        entry.get("coverage_percent"), gap, entry.get("rpo_seconds"), _count(items, "violation"), _count(items, "warning"),
                        _count(items, "info"), sum(1 for finding in items if finding.get("waived")), policy, breached))
        for finding in items:
            findings.append((audit_id, kind, str(name), uid, finding.get("rule"), finding.get("code"), finding.get("severity"),
                             int(bool(finding.get("waived"))), finding.get("message")))
    return results, findings


class HistoryStore:
    """An open history store. Use as a context manager; every method raises HistoryStoreError naming the store."""

    def __init__(self, url, password=None):
        self.connection = connection_for(url, password)
        self.masked_url = self.connection.masked

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def open(self):
        self.connection.open()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def close(self):
        self.connection.close()

    def _transaction(self, action, work):
        """Run work() in one transaction; roll back and raise HistoryStoreError on any database error."""
        conn = self.connection
        try:
            conn.begin()
            result = work()
            conn.commit()
            return result
        except conn.errors as exc:
            self._rollback_quietly()
            raise conn.fail(action, exc)
        except BaseException:
            self._rollback_quietly()
            raise

    def _rollback_quietly(self):
        try:
            self.connection.rollback()
        except self.connection.errors:
            pass  # the connection is gone: the server rolls the transaction back itself

    def schema_version(self):
        if not self.connection.table_exists("history_schema"):
            return 0
        return self.connection.execute("SELECT MAX(version) FROM history_schema").fetchone()[0] or 0

    def _migrate(self):
        def work():
            self.connection.lock_schema()
            current = self.schema_version()
            if current == 0 and self.connection.table_exists("audits"):
                raise HistoryStoreError(self.masked_url, "holds an 'audits' table but no history_schema table: it is not a CDP "
                                        "compliance history store.", "Choose another file or database.")
            if current > SCHEMA_VERSION:
                raise HistoryStoreError(self.masked_url, "schema version %d is newer than this collection (%s) supports (%d)."
                                        % (current, COLLECTION_VERSION, SCHEMA_VERSION), "Upgrade the collection.")
            if current == 0:
                self.connection.execute("CREATE TABLE history_schema (version INTEGER PRIMARY KEY, migrated_at DOUBLE PRECISION NOT NULL, "
                                        "collection_version TEXT)")
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements:
                        self.connection.execute(statement)
                    self.connection.execute("INSERT INTO history_schema (version, migrated_at, collection_version) VALUES (?, ?, ?)",
                                            (version, time.time(), COLLECTION_VERSION))
            return current

        if self._read("reading the schema version", self.schema_version) != SCHEMA_VERSION:
            self._transaction("migrating the schema", work)

    def append_audit(self, report, scope):
        """Store one audit report for ``scope`` (history_drift.audit_scope). Returns the audit's summary dict."""
        if not isinstance(report, dict) or report.get("kind") != STORED_KIND:
            raise HistoryStoreError(self.masked_url, "only single-EM audit reports (kind %s) are stored, not %r."
                                    % (STORED_KIND, report.get("kind") if isinstance(report, dict) else type(report).__name__))
        audit_id = str(uuid.uuid4())
        digest = evidence_sha256(report)
        audited_at = report.get("now") or report.get("generated_at")
        window = report.get("window") or {}
        evidence = report.get("evidence") or {}
        scope_text = json.dumps(scope, sort_keys=True, separators=(",", ":"))
        row = (audit_id, _epoch(audited_at), time.time(), _epoch(window["start"]), _epoch(window["end"]), scope_key(scope), scope_text,
               json.dumps(scope.get("em_hosts") or []), report.get("verdict"), evidence.get("collection_version"), digest,
               len(report.get("vms") or ()), len(report.get("policies") or ()))
        results, findings = result_rows(report, audit_id)

        def work():
            self.connection.execute("INSERT INTO audits (id, audited_at, recorded_at, window_start, window_end, scope_key, scope, em_hosts, "
                                    "verdict, collection_version, evidence_sha256, vms, policies) VALUES (%s)" % ", ".join("?" * 13), row)
            self._insert_many("results", RESULT_COLUMNS, results)
            self._insert_many("findings", FINDING_COLUMNS, findings)

        self._transaction("appending the audit", work)
        return {"id": audit_id, "audited_at": format_utc(parse_iso(audited_at)), "evidence_sha256": digest, "scope_key": row[5]}

    def _insert_many(self, table, columns, rows):
        if rows:
            self.connection.executemany("INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(columns), ", ".join("?" * len(columns))), rows)

    def _read(self, action, work):
        try:
            result = work()
            if self.connection.kind == "postgresql":
                self.connection.commit()  # end the read transaction psycopg opened
            return result
        except self.connection.errors as exc:
            self._rollback_quietly()
            raise self.connection.fail(action, exc)

    def previous_audit(self, key, before):
        """The latest audit of scope ``key`` evaluated before ``before`` (ISO time), with its results and findings; or None."""
        def work():
            row = self.connection.execute(
                "SELECT id, audited_at, verdict, evidence_sha256, window_start, window_end FROM audits WHERE scope_key = ? AND audited_at < ? "
                "ORDER BY audited_at DESC, recorded_at DESC LIMIT 1", (key, _epoch(before))).fetchone()
            if row is None:
                return None
            results = self.connection.execute("SELECT kind, name, uid, status, in_scope FROM results WHERE audit_id = ?", (row[0],)).fetchall()
            findings = self.connection.execute("SELECT kind, name, uid, rule, code, severity, waived, message FROM findings WHERE audit_id = ?",
                                               (row[0],)).fetchall()
            return {"id": row[0], "audited_at": _iso(row[1]), "verdict": row[2], "evidence_sha256": row[3],
                    "window": {"start": _iso(row[4]), "end": _iso(row[5])}, "results": results, "findings": findings}
        return self._read("reading the previous audit", work)

    def audits_between(self, since, until, key=None, em_hosts=None):
        """Audits evaluated in [since, until] (epoch seconds) as dicts, oldest first; optionally one scope or some EM hosts."""
        def work():
            sql = ("SELECT id, audited_at, window_start, window_end, scope_key, em_hosts, verdict, evidence_sha256, collection_version, vms, "
                   "policies FROM audits WHERE audited_at >= ? AND audited_at <= ?")
            params = [since, until]
            if key:
                sql += " AND scope_key = ?"
                params.append(key)
            return self.connection.execute(sql + " ORDER BY audited_at, recorded_at", params).fetchall()
        wanted = set(em_hosts or ())
        audits = []
        for row in self._read("reading audits", work):
            hosts = json.loads(row[5])
            if wanted and not wanted.intersection(hosts):
                continue
            audits.append({"id": row[0], "audited_at": row[1], "window_start": row[2], "window_end": row[3], "scope_key": row[4],
                           "em_hosts": hosts, "verdict": row[6], "evidence_sha256": row[7], "collection_version": row[8],
                           "vms": row[9], "policies": row[10]})
        return audits

    def results_of(self, audits):
        """(audit_id, kind, name, uid, status, policy) of every result of these audits."""
        ids = [audit["id"] for audit in audits]

        def work():
            rows = []
            for index in range(0, len(ids), 500):
                chunk = ids[index:index + 500]
                rows.extend(self.connection.execute("SELECT audit_id, kind, name, uid, status, policy FROM results WHERE audit_id IN (%s)"
                                                    % ", ".join("?" * len(chunk)), chunk).fetchall())
            return rows
        return self._read("reading results", work)


def scope_key(scope):
    """A stable key of an audit scope: audits with equal keys are compared for drift."""
    return hashlib.sha256(json.dumps(scope, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def _iso(epoch):
    return format_utc(datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc))
