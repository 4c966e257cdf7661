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

# Each entry takes the store from version N-1 to N. Types are the common ground of SQLite and PostgreSQL;
# {serial} is each database's auto-numbered key. Results and findings point at integer keys: a 90-day trend
# of 2,000 VMs reads 180,000 results, and integers read several times faster than repeated texts.
MIGRATIONS = (
    (1, (
        """CREATE TABLE audits (
            seq {serial}, id TEXT NOT NULL UNIQUE, audited_at DOUBLE PRECISION NOT NULL, recorded_at DOUBLE PRECISION NOT NULL,
            window_start DOUBLE PRECISION NOT NULL, window_end DOUBLE PRECISION NOT NULL,
            scope_key TEXT NOT NULL, scope TEXT NOT NULL, em_hosts TEXT NOT NULL, verdict TEXT NOT NULL,
            collection_version TEXT, evidence_sha256 TEXT NOT NULL, vms INTEGER NOT NULL, policies INTEGER NOT NULL)""",
        "CREATE INDEX audits_scope_time ON audits (scope_key, audited_at)",
        "CREATE INDEX audits_time ON audits (audited_at)",
        # uid is '' for VMs: a NULL would make every VM row distinct to the UNIQUE constraint.
        "CREATE TABLE targets (id {serial}, kind TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL, UNIQUE (kind, name, uid))",
        """CREATE TABLE results (
            audit BIGINT NOT NULL REFERENCES audits (seq) ON DELETE CASCADE, target BIGINT NOT NULL REFERENCES targets (id),
            status TEXT NOT NULL, in_scope INTEGER NOT NULL, coverage_percent DOUBLE PRECISION, worst_gap_seconds DOUBLE PRECISION,
            rpo_seconds DOUBLE PRECISION, violations INTEGER NOT NULL, warnings INTEGER NOT NULL, infos INTEGER NOT NULL,
            waived INTEGER NOT NULL, PRIMARY KEY (audit, target))""",
        """CREATE TABLE findings (
            audit BIGINT NOT NULL REFERENCES audits (seq) ON DELETE CASCADE, target BIGINT NOT NULL REFERENCES targets (id),
            rule TEXT NOT NULL, code TEXT, severity TEXT NOT NULL, waived INTEGER NOT NULL, message TEXT)""",
        "CREATE INDEX findings_audit ON findings (audit)",
    )),
    # 2: per VM its policy and whether its RPO was breached, so trends and drift can say it without the report.
    (2, (
        "ALTER TABLE results ADD COLUMN policy TEXT",
        "ALTER TABLE results ADD COLUMN rpo_breached INTEGER",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
RESULT_COLUMNS = ("status", "in_scope", "coverage_percent", "worst_gap_seconds", "rpo_seconds", "violations", "warnings", "infos", "waived",
                  "policy", "rpo_breached")
FINDING_COLUMNS = ("rule", "code", "severity", "waived", "message")
# Trends read statuses as small integers (see MIGRATIONS); anything else the engine may add reads as "unknown".
STATUS_CODES = ("compliant", "warning", "non_compliant", "unknown")
_STATUS_CASE = "CASE status WHEN 'compliant' THEN 0 WHEN 'warning' THEN 1 WHEN 'non_compliant' THEN 2 ELSE 3 END"


def evidence_sha256(report):
    """SHA-256 of the report's canonical JSON (sorted keys, no spaces, UTF-8) without the keys the history adds."""
    core = {key: value for key, value in report.items() if key not in DERIVED_KEYS}
    text = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _epoch(text):
    return parse_iso(text).timestamp()


def _count(findings, severity):
    return sum(1 for finding in findings if not finding.get("waived") and finding.get("severity") == severity)


def result_rows(report):
    """(results, findings) of a report: ((kind, name, uid), RESULT_COLUMNS values) and ((kind, name, uid), FINDING_COLUMNS values)."""
    results, findings = [], []
    targets = [("vm", vm, vm.get("name"), None) for vm in report.get("vms") or ()]
    targets += [("policy", policy, policy.get("name") or policy.get("uid"), policy.get("uid")) for policy in report.get("policies") or ()]
    for kind, entry, name, uid in targets:
        target = (kind, str(name), uid)
        items = entry.get("findings") or ()
        if kind == "vm":
            gap, policy, breached = entry.get("worst_gap_seconds"), entry.get("policy"), int(bool(entry.get("rpo_breached")))
        else:
            gap, policy, breached = (entry.get("worst_breach") or {}).get("worst_gap_seconds"), None, int(bool(entry.get("rpo_breaches")))
        results.append((target, (entry.get("status"), int(bool(entry.get("in_scope", True))), entry.get("coverage_percent"), gap,
                                 entry.get("rpo_seconds"), _count(items, "violation"), _count(items, "warning"), _count(items, "info"),
                                 sum(1 for finding in items if finding.get("waived")), policy, breached)))
        for finding in items:
            findings.append((target, (finding.get("rule"), finding.get("code"), finding.get("severity"), int(bool(finding.get("waived"))),
                                      finding.get("message"))))
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
                        self.connection.execute(statement.replace("{serial}", self.connection.serial))
                    self.connection.execute("INSERT INTO history_schema (version, migrated_at, collection_version) VALUES (?, ?, ?)",
                                            (version, time.time(), COLLECTION_VERSION))
            return current

        if self._read("reading the schema version", self.schema_version) != SCHEMA_VERSION:
            self._transaction("migrating the schema", work)

    def append_audit(self, report, scope):
        """Store one audit report for ``scope`` (history_drift.audit_scope) in one transaction. Returns {id, audited_at, evidence_sha256, scope_key}."""
        if not isinstance(report, dict) or report.get("kind") != STORED_KIND:
            raise HistoryStoreError(self.masked_url, "only single-EM audit reports (kind %s) are stored, not %r."
                                    % (STORED_KIND, report.get("kind") if isinstance(report, dict) else type(report).__name__))
        audit_id = str(uuid.uuid4())
        digest = evidence_sha256(report)
        audited_at = report.get("now") or report.get("generated_at")
        window = report.get("window") or {}
        evidence = report.get("evidence") or {}
        key = scope_key(scope)
        row = (audit_id, _epoch(audited_at), time.time(), _epoch(window["start"]), _epoch(window["end"]), key,
               json.dumps(scope, sort_keys=True, separators=(",", ":")), json.dumps(scope.get("em_hosts") or []), report.get("verdict"),
               evidence.get("collection_version"), digest, len(report.get("vms") or ()), len(report.get("policies") or ()))
        results, findings = result_rows(report)

        def work():
            seq = self.connection.insert_returning(
                "INSERT INTO audits (id, audited_at, recorded_at, window_start, window_end, scope_key, scope, em_hosts, verdict, "
                "collection_version, evidence_sha256, vms, policies) VALUES (%s)" % ", ".join("?" * len(row)), row, "seq")
            ids = self._target_ids({target for target, _values in results})
            self._insert_many("results", ("audit", "target") + RESULT_COLUMNS, [(seq, ids[target]) + values for target, values in results])
            self._insert_many("findings", ("audit", "target") + FINDING_COLUMNS, [(seq, ids[target]) + values for target, values in findings])

        self._transaction("appending the audit", work)
        return {"id": audit_id, "audited_at": format_utc(parse_iso(audited_at)), "evidence_sha256": digest, "scope_key": key}

    def _target_ids(self, targets):
        """{(kind, name, uid): id}, adding the targets the store has not seen yet."""
        # Sorted: two jobs adding the same new targets then wait for each other in one order, never in a deadlock.
        self._insert_many("targets", ("kind", "name", "uid"), sorted((kind, name, uid or "") for kind, name, uid in targets),
                          " ON CONFLICT (kind, name, uid) DO NOTHING")
        known = self._targets()
        return {target: known[(target[0], target[1], target[2] or "")] for target in targets}

    def _targets(self):
        return {(kind, name, uid): target_id for target_id, kind, name, uid in self.connection.execute("SELECT id, kind, name, uid FROM targets")}

    def _insert_many(self, table, columns, rows, suffix=""):
        if rows:
            self.connection.executemany("INSERT INTO %s (%s) VALUES (%s)%s" % (table, ", ".join(columns), ", ".join("?" * len(columns)), suffix),
                                        rows)

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
        """The latest audit of scope ``key`` evaluated before ``before`` (ISO time), with its results and findings; or None.

        results: (kind, name, uid, status, in_scope); findings: (kind, name, uid, rule, code, severity, waived, message).
        """
        def work():
            row = self.connection.execute(
                "SELECT seq, id, audited_at, verdict, evidence_sha256, window_start, window_end FROM audits WHERE scope_key = ? AND audited_at < ? "
                "ORDER BY audited_at DESC, seq DESC LIMIT 1", (key, _epoch(before))).fetchone()
            if row is None:
                return None
            results = self.connection.execute("SELECT t.kind, t.name, t.uid, r.status, r.in_scope FROM results r JOIN targets t ON t.id = r.target "
                                              "WHERE r.audit = ?", (row[0],)).fetchall()
            findings = self.connection.execute("SELECT t.kind, t.name, t.uid, f.rule, f.code, f.severity, f.waived, f.message FROM findings f "
                                               "JOIN targets t ON t.id = f.target WHERE f.audit = ?", (row[0],)).fetchall()
            return {"id": row[1], "audited_at": _iso(row[2]), "verdict": row[3], "evidence_sha256": row[4],
                    "window": {"start": _iso(row[5]), "end": _iso(row[6])},
                    "results": [(kind, name, uid or None) + tuple(rest) for kind, name, uid, *rest in results],
                    "findings": [(kind, name, uid or None) + tuple(rest) for kind, name, uid, *rest in findings]}
        return self._read("reading the previous audit", work)

    def audits_between(self, since, until, key=None, em_hosts=None):
        """Audits evaluated in [since, until] (epoch seconds) as dicts, oldest first; optionally one scope or some EM hosts."""
        def work():
            sql = ("SELECT seq, id, audited_at, window_start, window_end, scope_key, em_hosts, verdict, evidence_sha256, collection_version, vms, "
                   "policies FROM audits WHERE audited_at >= ? AND audited_at <= ?")
            params = [since, until]
            if key:
                sql += " AND scope_key = ?"
                params.append(key)
            return self.connection.execute(sql + " ORDER BY audited_at, seq", params).fetchall()
        wanted = set(em_hosts or ())
        audits = []
        for row in self._read("reading audits", work):
            hosts = json.loads(row[6])
            if wanted and not wanted.intersection(hosts):
                continue
            audits.append({"seq": row[0], "id": row[1], "audited_at": row[2], "window_start": row[3], "window_end": row[4], "scope_key": row[5],
                           "em_hosts": hosts, "verdict": row[7], "evidence_sha256": row[8], "collection_version": row[9],
                           "vms": row[10], "policies": row[11]})
        return audits

    def results_of(self, audits):
        """(rows, targets) of these audits: rows (audit seq, target id, status code: index in STATUS_CODES); targets {id: (kind, name, uid)}."""
        seqs = [audit["seq"] for audit in audits]

        def work():
            rows = []
            for index in range(0, len(seqs), 500):
                chunk = seqs[index:index + 500]
                rows.extend(self.connection.execute("SELECT audit, target, %s FROM results WHERE audit IN (%s)"
                                                    % (_STATUS_CASE, ", ".join("?" * len(chunk))), chunk).fetchall())
            return rows, {target_id: (kind, name, uid or None) for (kind, name, uid), target_id in self._targets().items()}
        return self._read("reading results", work)


def scope_key(scope):
    """A stable key of an audit scope: audits with equal keys are compared for drift."""
    return hashlib.sha256(json.dumps(scope, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def _iso(epoch):
    return format_utc(datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc))
