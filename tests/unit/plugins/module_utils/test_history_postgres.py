# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history store on a real PostgreSQL server that the tests start (Debian's postgresql, loopback, a temporary directory).

Skipped, with the reason, only where the server or psycopg cannot be had.
"""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import history_backends
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import HistoryStoreError, read_trends, record_audit
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history_store import MIGRATIONS, SCHEMA_VERSION, HistoryStore
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.history_reports import SCOPE, day, finding, report
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_history_store import concurrent_writers
from ansible_collections.veeam.enterprise_manager.tests.utils.postgres_server import PostgresServer, PostgresUnavailable

DATABASES = itertools.count()


# One server per test: ansible-test runs each test in a forked process, which would start a module-scoped server
# anew and never stop it.
@pytest.fixture
def server():
    psycopg, import_error = history_backends.load_psycopg()
    if psycopg is None:
        pytest.skip("psycopg 3 is not installed (pip install 'psycopg[binary]'): %s" % import_error)
    try:
        running = PostgresServer.start()
    except PostgresUnavailable as exc:
        pytest.skip("cannot start a PostgreSQL server for the history tests: %s" % exc)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def database(server, monkeypatch):
    """A fresh database; its URL has no password, which comes from PGPASSWORD as an AWX credential would inject it."""
    import psycopg

    name = "history_%d" % next(DATABASES)
    with psycopg.connect(server.url(), password=server.password, autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s" % name)
    monkeypatch.setenv("PGPASSWORD", server.password)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    return server.url(name)


def test_audits_drift_and_trends(database):
    first = record_audit(database, report(day(0), {"db-01": [finding("coverage", "gap")], "db-02": []}), SCOPE)
    second = record_audit(database, report(day(1), {"db-01": [], "db-03": [finding("stuck", "stuck")]}), SCOPE)
    assert first["drift"]["previous_audit"] is None
    assert second["history"]["store"] == database and second["history"]["schema_version"] == SCHEMA_VERSION
    result = second["drift"]
    assert result["previous_audit"]["id"] == first["history"]["audit_id"]
    assert [entry["vm"] for entry in result["resolved"]] == ["db-01"] and [entry["vm"] for entry in result["new"]] == ["db-03"]
    assert result["appeared"] == [{"vm": "db-03"}] and result["disappeared"] == [{"vm": "db-02"}]
    trend = read_trends(database, days=90, now=day(1))
    assert trend["trends"]["audits"] == 2 and [audit["evidence_sha256"] for audit in trend["audits"]] == [
        first["history"]["evidence_sha256"], second["history"]["evidence_sha256"]]
    db01 = trend["trends"]["vms"][0]
    assert db01["vm"] == "db-01" and db01["by_status"] == {"compliant": 1, "warning": 0, "non_compliant": 1}
    assert db01["current"] == {"status": "compliant", "since": day(1), "previous_status": "non_compliant", "previous_audit_at": day(0)}


def test_password_option_and_url_password_are_never_shown(database, server, monkeypatch):
    monkeypatch.delenv("PGPASSWORD")
    assert record_audit(database, report(day(0), {"db-01": []}), SCOPE, password=server.password)["drift"]["previous_audit"] is None
    in_url = database.replace("history_test@", "history_test:%s@" % server.password)
    result = record_audit(in_url, report(day(1), {"db-01": []}), SCOPE)
    assert server.password not in str(result) and "history_test:********@" in result["history"]["store"]
    with pytest.raises(HistoryStoreError) as info:
        record_audit(database.replace("history_test@", "history_test:Wr0ngPass@"), report(day(2), {"db-01": []}), SCOPE)
    assert "password authentication failed" in info.value.message and "Wr0ngPass" not in str(info.value.to_result())
    assert info.value.message.startswith("History store postgresql://history_test:********@127.0.0.1:")


def test_no_password_at_all_fails_clearly(database, monkeypatch, tmp_path):
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(HistoryStoreError) as info:
        record_audit(database, report(day(0), {"db-01": []}), SCOPE)
    assert info.value.message.startswith("History store %s: connecting failed" % database)
    assert "PGPASSWORD" in info.value.message


def test_unreachable_server_names_the_store():
    if history_backends.load_psycopg()[0] is None:
        pytest.skip("psycopg 3 is not installed (pip install 'psycopg[binary]')")
    closed = "postgresql://history_test@127.0.0.1:1/postgres"
    with pytest.raises(HistoryStoreError) as info:
        record_audit(closed, report(day(0), {"db-01": []}), SCOPE, password="Unr3achable")
    assert info.value.message.startswith("History store %s: connecting failed" % closed) and "Unr3achable" not in info.value.message


def test_schema_1_database_is_migrated(database):
    import psycopg

    with psycopg.connect(database) as conn:
        conn.execute("CREATE TABLE history_schema (version INTEGER PRIMARY KEY, migrated_at DOUBLE PRECISION NOT NULL, collection_version TEXT)")
        for statement in MIGRATIONS[0][1]:
            conn.execute(statement.replace("{serial}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"))
        conn.execute("INSERT INTO history_schema VALUES (1, 0, '0.1.0')")
    record_audit(database, report(day(0), {"db-01": []}), SCOPE)
    with HistoryStore(database) as store:
        assert store.schema_version() == SCHEMA_VERSION
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT policy, rpo_breached FROM results").fetchone() == ("cdp-gold", 0)


def test_concurrent_writers_all_land(database):
    import psycopg

    expected = concurrent_writers(database)
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM audits").fetchone() == (expected, expected)
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == expected * 500
        # Every writer met the same 500 VMs: each is one target, however many jobs added it at once.
        assert conn.execute("SELECT COUNT(*) FROM targets").fetchone()[0] == 500
        assert conn.execute("SELECT COUNT(*) FROM history_schema").fetchone()[0] == len(MIGRATIONS)


def test_failed_write_rolls_back(database, monkeypatch):
    import psycopg

    record_audit(database, report(day(0), {"db-01": []}), SCOPE)

    def fail(self, sql, rows):
        raise psycopg.errors.DiskFull("could not extend file")

    monkeypatch.setattr(history_backends.PostgresConnection, "executemany", fail)
    with pytest.raises(HistoryStoreError) as info:
        record_audit(database, report(day(1), {"db-01": []}), SCOPE)
    assert "appending the audit failed: could not extend file" in info.value.message
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM audits").fetchone()[0] == 1
