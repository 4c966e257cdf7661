# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history store on SQLite: URLs, schema and migrations, appending, crash safety, concurrent writers, broken stores."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest
import yaml

from ansible_collections.veeam.enterprise_manager.plugins.doc_fragments import history as history_fragment
from ansible_collections.veeam.enterprise_manager.plugins.module_utils import history_backends, history_store
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import (
    HistoryStoreError,
    check_history_options,
    mask_url,
    record_audit,
    record_in_history,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import SHARED_SPECS
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history_store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryStore,
    evidence_sha256,
    scope_key,
)
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.history_reports import SCOPE, day, finding, report


def two_vm_report(now="2026-09-01T06:00:00Z"):
    return report(now, {"db-01": [], "db-02": [finding("coverage", "gap"), finding("rpo", "rpo_breach", "warning"), finding("stuck", "x", "info")]},
                  {"urn:veeam:CdpPolicy:1": ("cdp-gold", [finding("policy_config", "disabled", "warning")])})


def count(path, sql):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.mark.parametrize("url, path", [
    ("/var/lib/cdp/history.db", "/var/lib/cdp/history.db"),
    ("history.db", "history.db"),
    ("sqlite:///var/lib/cdp/history.db", "/var/lib/cdp/history.db"),
])
def test_sqlite_locations(url, path):
    connection = history_backends.connection_for(url)
    assert connection.kind == "sqlite" and connection.path == path


def test_postgresql_urls_and_bad_ones():
    assert history_backends.connection_for("postgresql://auditor@db:5432/cdp").kind == "postgresql"
    assert history_backends.connection_for("postgres://auditor@db/cdp").kind == "postgresql"
    for bad, words in (("", "empty"), ("mysql://u:pw@h/db", "unsupported scheme"), ("sqlite://relative.db", "absolute path")):
        with pytest.raises(InvalidInputError) as info:
            history_backends.connection_for(bad)
        assert info.value.option == "history" and words in info.value.message
    with pytest.raises(InvalidInputError) as info:
        history_backends.connection_for("mysql://u:Pw0rd@h/db")
    assert "Pw0rd" not in info.value.message and "mysql://u:********@h/db" in info.value.message


def test_passwords_are_masked():
    assert mask_url("postgresql://auditor:S3cret%40x@db:5432/cdp?sslmode=require&password=Other1") == \
        "postgresql://auditor:********@db:5432/cdp?sslmode=require&password=********"
    assert mask_url("postgresql://auditor@db/cdp") == "postgresql://auditor@db/cdp"
    assert history_backends.url_password("postgresql://auditor:S3cret@db/cdp") == "S3cret"
    assert history_backends.url_password("postgresql://auditor@db/cdp") is None


def test_new_store_gets_the_schema_in_wal_mode(tmp_path):
    path = str(tmp_path / "history.db")
    with HistoryStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.connection.journal_mode == "wal"
    with sqlite3.connect(path) as conn:
        assert [row[0] for row in conn.execute("SELECT version FROM history_schema ORDER BY version")] == [migration[0] for migration in MIGRATIONS]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_append_stores_audit_results_and_findings(tmp_path):
    path = str(tmp_path / "history.db")
    audit = two_vm_report()
    with HistoryStore("sqlite://" + path) as store:
        stored = store.append_audit(audit, SCOPE)
        audits = store.audits_between(0, 4e9)
        rows, targets = store.results_of(audits)
    assert stored["evidence_sha256"] == evidence_sha256(audit) and stored["scope_key"] == scope_key(SCOPE)
    assert len(audits) == 1
    assert audits[0]["id"] == stored["id"] and audits[0]["verdict"] == "non_compliant" and audits[0]["em_hosts"] == ["https://em.example.com:9398"]
    assert audits[0]["collection_version"] == "0.1.0" and audits[0]["vms"] == 2 and audits[0]["policies"] == 1
    assert audits[0]["window_end"] - audits[0]["window_start"] == 86400
    assert sorted(targets[target] + (history_store.STATUS_CODES[status],) for _seq, target, status in rows) == [
        ("policy", "cdp-gold", "urn:veeam:CdpPolicy:1", "warning"), ("vm", "db-01", None, "compliant"), ("vm", "db-02", None, "non_compliant")]
    with sqlite3.connect(path) as conn:
        counts = conn.execute("SELECT violations, warnings, infos, waived, coverage_percent, worst_gap_seconds, rpo_seconds, policy, rpo_breached "
                              "FROM results JOIN targets ON targets.id = results.target WHERE name = 'db-02'").fetchone()
        assert counts == (1, 1, 1, 0, 80.0, 3600.0, 15.0, "cdp-gold", 1)
        assert sorted(conn.execute("SELECT kind, name, rule, severity FROM findings JOIN targets ON targets.id = findings.target")) == [
            ("policy", "cdp-gold", "policy_config", "warning"), ("vm", "db-02", "coverage", "violation"), ("vm", "db-02", "rpo", "warning"),
            ("vm", "db-02", "stuck", "info")]


def test_evidence_hash_covers_the_audit_not_what_history_adds():
    audit = two_vm_report()
    assert evidence_sha256(audit) == evidence_sha256(dict(audit, drift={"new": [1]}, trends={}, history={"audit_id": "x"}))
    changed = json.loads(json.dumps(audit))
    changed["vms"][0]["coverage_percent"] = 99.9
    assert evidence_sha256(changed) != evidence_sha256(audit)
    assert len(evidence_sha256(audit)) == 64


def test_only_single_em_reports_are_stored(tmp_path):
    with HistoryStore(str(tmp_path / "h.db")) as store:
        with pytest.raises(HistoryStoreError) as info:
            store.append_audit({"kind": "cdp_compliance_combined_report"}, SCOPE)
    assert "cdp_compliance_combined_report" in info.value.message and str(tmp_path) in info.value.message


def write_schema_1_store(path):
    """A store as the first schema wrote it, with one audit in it."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE history_schema (version INTEGER PRIMARY KEY, migrated_at DOUBLE PRECISION NOT NULL, collection_version TEXT)")
        for statement in MIGRATIONS[0][1]:
            conn.execute(statement.replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT"))
        conn.execute("INSERT INTO history_schema VALUES (1, 0, '0.1.0')")
        old = report(day(0), {"db-01": [finding("coverage", "gap")]})
        conn.execute("INSERT INTO audits VALUES (7, 'old-1', ?, 0, ?, ?, ?, '{}', '[]', 'non_compliant', '0.1.0', ?, 1, 0)",
                     (history_store._epoch(day(0)), history_store._epoch(day(-1)), history_store._epoch(day(0)), scope_key(SCOPE), evidence_sha256(old)))
        conn.execute("INSERT INTO targets VALUES (3, 'vm', 'db-01', '')")
        conn.execute("INSERT INTO results VALUES (7, 3, 'non_compliant', 1, 80.0, 3600.0, 15.0, 1, 0, 0, 0)")
        conn.execute("INSERT INTO findings VALUES (7, 3, 'coverage', 'gap', 'violation', 0, 'coverage gap')")


def test_store_of_schema_1_is_migrated_not_overwritten(tmp_path):
    path = str(tmp_path / "history.db")
    write_schema_1_store(path)
    result = record_audit(path, report(day(1), {"db-01": []}), SCOPE)
    assert result["drift"]["previous_audit"]["id"] == "old-1"
    assert result["drift"]["resolved"] == [{"vm": "db-01", "rule": "coverage", "code": "gap", "severity": "violation", "message": "coverage gap"}]
    assert result["trends"]["audits"] == 2
    assert result["trends"]["vms"][0]["by_status"] == {"compliant": 1, "warning": 0, "non_compliant": 1}
    assert count(path, "SELECT MAX(version) FROM history_schema") == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT policy, rpo_breached FROM results WHERE audit = 7").fetchone() == (None, None)
        assert conn.execute("SELECT policy, rpo_breached FROM results WHERE audit > 7").fetchone() == ("cdp-gold", 0)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "history.db")
    with HistoryStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO history_schema VALUES (?, 0, '9.0.0')", (SCHEMA_VERSION + 1,))
    with pytest.raises(HistoryStoreError) as info:
        HistoryStore(path).open()
    assert "newer" in info.value.message and path in info.value.message and "Upgrade the collection" in info.value.message


def test_foreign_database_is_not_touched(tmp_path):
    path = str(tmp_path / "other.db")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE audits (anything TEXT)")
    with pytest.raises(HistoryStoreError) as info:
        HistoryStore(path).open()
    assert "not a CDP compliance history store" in info.value.message
    assert count(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'history_schema'") == 0


@pytest.mark.parametrize("make, words", [
    (lambda tmp: str(tmp / "missing" / "history.db"), "does not exist"),
    (lambda tmp: (tmp / "garbage.db").write_bytes(b"this is not a database at all" * 100) and str(tmp / "garbage.db"), "not a database"),
])
def test_broken_store_names_itself(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(HistoryStoreError) as info:
        record_audit(path, two_vm_report(), SCOPE)
    assert info.value.message.startswith("History store %s: " % path) and words in info.value.message
    assert info.value.to_result()["history_store"] == path


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    path = str(tmp_path / "history.db")
    record_audit(path, two_vm_report(day(0)), SCOPE)

    original = history_backends.SQLiteConnection.executemany

    def disk_full(self, sql, rows):
        if "findings" in sql:
            raise sqlite3.OperationalError("database or disk is full")
        return original(self, sql, rows)

    monkeypatch.setattr(history_backends.SQLiteConnection, "executemany", disk_full)
    with pytest.raises(HistoryStoreError) as info:
        record_audit(path, two_vm_report(day(1)), SCOPE)
    assert "appending the audit failed: database or disk is full" in info.value.message
    assert count(path, "SELECT COUNT(*) FROM audits") == 1
    assert count(path, "SELECT COUNT(*) FROM results") == 3
    assert count(path, "SELECT COUNT(*) FROM findings") == 4


def run_python(code, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)] + [str(arg) for arg in args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


CRASH = """
    import os, sys
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils import history_store
    from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.history_reports import SCOPE, report
    original = history_store.HistoryStore._insert_many
    def die_after_results(self, table, columns, rows, suffix=""):
        original(self, table, columns, rows, suffix)
        if table == "results":
            os._exit(9)  # the process dies mid-transaction: no rollback, no close
    history_store.HistoryStore._insert_many = die_after_results
    with history_store.HistoryStore(sys.argv[1]) as store:
        store.append_audit(report("2026-09-02T06:00:00Z", {"vm-%d" % i: [] for i in range(300)}), SCOPE)
"""


def test_crash_mid_write_leaves_the_store_consistent(tmp_path):
    path = str(tmp_path / "history.db")
    record_audit(path, two_vm_report(day(0)), SCOPE)
    process = run_python(CRASH, path)
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 9, err
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM audits").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 3
        assert conn.execute("SELECT COUNT(*) FROM results WHERE audit NOT IN (SELECT seq FROM audits)").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM targets WHERE name LIKE 'vm-%'").fetchone()[0] == 0
    assert record_audit(path, two_vm_report(day(2)), SCOPE)["trends"]["audits"] == 2


WRITER = """
    import sys
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import record_audit
    from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.history_reports import SCOPE, day, report
    url, writer, audits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for index in range(audits):
        record_audit(url, report(day(writer * 100 + index), {"vm-%04d" % vm: [] for vm in range(500)}), SCOPE, trend_days=0)
    print("done")
"""


def concurrent_writers(url, writers=4, audits=5):
    processes = [run_python(WRITER, url, writer, audits) for writer in range(writers)]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0 and out.strip() == "done", err
    return writers * audits


def test_concurrent_writers_all_land(tmp_path):
    path = str(tmp_path / "history.db")
    expected = concurrent_writers(path)  # the store does not exist yet: the writers also race to create the schema
    assert count(path, "SELECT COUNT(*) FROM audits") == expected
    assert count(path, "SELECT COUNT(DISTINCT id) FROM audits") == expected
    assert count(path, "SELECT COUNT(*) FROM results") == expected * 500
    assert count(path, "SELECT COUNT(*) FROM targets") == 500
    assert count(path, "SELECT COUNT(*) FROM history_schema") == len(MIGRATIONS)


def test_module_options_are_checked_before_the_audit():
    assert check_history_options({}) is None and check_history_options({"history": None}) is None
    assert check_history_options({"history": "/var/lib/cdp/h.db", "history_trend_days": 0}, days_option="history_trend_days") == "/var/lib/cdp/h.db"
    for params, option, words in (
            ({"history": "ftp://h/x"}, "history", "unsupported scheme"),
            ({"history": "postgresql://u:Pw0rd@db/cdp"}, "history", "postgresql://u:********@db/cdp carries a password"),
            ({"history": "postgresql://u@db/cdp?password=Pw0rd"}, "history", "carries a password"),
            ({"history": "h.db", "history_trend_days": -1}, "history_trend_days", "not a number of days")):
        with pytest.raises(InvalidInputError) as info:
            check_history_options(params, days_option="history_trend_days")
        assert info.value.option == option and words in info.value.message and "Pw0rd" not in info.value.message


def test_record_in_history_adds_drift_and_keeps_the_audit_on_failure(tmp_path):
    result = {"report": two_vm_report(), "truncated": False, "pages": 3}
    assert record_in_history({"history": None}, result, ["https://em.example.com:9398"]) is result
    recorded = record_in_history({"history": str(tmp_path / "h.db"), "history_trend_days": 90}, result, ["https://em.example.com:9398"])
    assert recorded["drift_counts"] == {"new": 0, "resolved": 0, "persisting": 0, "appeared": 0, "disappeared": 0}
    assert recorded["report"]["history"]["evidence_sha256"] == evidence_sha256(result["report"]) and recorded["pages"] == 3
    assert "drift" not in result["report"]  # the caller's report is not changed in place
    with pytest.raises(HistoryStoreError) as info:
        record_in_history({"history": str(tmp_path / "gone" / "h.db")}, result, ["https://em.example.com:9398"])
    failed = info.value.to_result()
    assert failed["msg"].startswith("History store %s: " % (tmp_path / "gone" / "h.db")) and failed["report"] == result["report"]
    assert failed["pages"] == 3


def test_missing_psycopg_is_named(monkeypatch):
    monkeypatch.setattr(history_backends, "load_psycopg", lambda: (None, ImportError("No module named 'psycopg'")))
    with pytest.raises(HistoryStoreError) as info:
        HistoryStore("postgresql://auditor@db.example.com/cdp").open()
    assert info.value.message.startswith("History store postgresql://auditor@db.example.com/cdp: a postgresql:// store needs the Python "
                                         "library psycopg (version 3)")
    assert "pip install 'psycopg[binary]'" in info.value.message


def test_history_fragment_equals_the_options_group():
    documented = yaml.safe_load(history_fragment.ModuleDocFragment.DOCUMENTATION)["options"]
    table = SHARED_SPECS["history"]
    assert list(documented) == list(table)
    for name, entry in table.items():
        assert (documented[name]["type"], documented[name].get("default")) == (entry["type"], entry.get("default")), name
    assert table["history_password"]["no_log"] is True
