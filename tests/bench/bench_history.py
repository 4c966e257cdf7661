# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the audit history store (issue 18): what recording an audit and reading a trend cost.

The store holds 90 daily audits of 2,000 VMs and 20 CDP policies (one VM in ten with findings, changing
from day to day). Figures, medians of --runs runs, on SQLite and, when a server can be started
(tests/utils/postgres_server.py), on PostgreSQL:

- history_<db>_append_2000_vms_s: storing one audit of 2,000 VMs (one transaction);
- history_<db>_trend_90d_2000_vms_s: trends of the last 90 days for every VM and policy (read_trends);
- history_<db>_record_audit_2000_vms_s: what an audit with ``history`` set pays: previous audit, append,
  drift and the 90-day trends for its report (record_audit).

Usage: bench_history.py [--runs N] [--collections DIR]; prints one JSON object as the last line of stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VMS = 2000
POLICIES = 20
DAYS = 90
START = datetime.datetime(2026, 8, 1, 6, 0, tzinfo=datetime.timezone.utc)


def audit_report(day, vms=VMS):
    """A report shaped like the engine's, evaluated at START + day days, with findings for one VM in ten (shifting daily)."""
    now = START + datetime.timedelta(days=day)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = []
    for index in range(vms):
        findings = []
        if (index + day) % 10 == 0:
            findings = [{"rule": "coverage", "code": "gap", "severity": "violation", "message": "1 gap longer than 15m", "evidence": {},
                         "waived": False},
                        {"rule": "rpo", "code": "rpo_breach", "severity": "warning", "message": "RPO breached", "evidence": {}, "waived": False}]
        entries.append({"name": "vm-%05d" % index, "status": "non_compliant" if findings else "compliant", "in_scope": True,
                        "policy": "cdp-%02d" % (index % POLICIES), "coverage_percent": 97.5 if findings else 100.0,
                        "worst_gap_seconds": 1800.0 if findings else 4.0, "rpo_seconds": 15.0, "rpo_breached": bool(findings), "findings": findings})
    policies = [{"uid": "urn:veeam:CdpPolicy:%d" % index, "name": "cdp-%02d" % index, "status": "non_compliant", "rpo_seconds": 15.0,
                 "rpo_breaches": 10, "worst_breach": {"vm": "vm-00000", "worst_gap_seconds": 1800.0, "ratio": 120.0, "tier": "critical"},
                 "findings": []} for index in range(POLICIES)]
    start = (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"schema_version": 1, "kind": "cdp_compliance_report", "verdict": "non_compliant", "em_host": "https://em.example.com:9398",
            "generated_at": stamp, "now": stamp, "window": {"start": start, "end": stamp, "seconds": 86400.0},
            "data": {"complete": True, "truncated": False, "issues": []}, "summary": {"vms": vms}, "findings": [], "vms": entries,
            "policies": policies, "waivers": [], "evidence": {"em_host": "https://em.example.com:9398", "collection_version": "0.1.0"}}


def timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure(history, history_store, url, runs, scope, password=None):
    """The three figures for one store URL (a fresh, empty store)."""
    with history_store.HistoryStore(url, password) as store:
        for day in range(DAYS):
            store.append_audit(audit_report(day), scope)
    until = (START + datetime.timedelta(days=DAYS - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    trend = [timed(lambda: history.read_trends(url, password=password, days=90, now=until)) for _run in range(runs)]
    check = history.read_trends(url, password=password, days=90, now=until)["trends"]
    assert len(check["vms"]) == VMS and check["vms"][0]["audits"] == DAYS, "the trend did not cover the stored audits"
    reports = [audit_report(DAYS + run) for run in range(2 * runs)]
    append, record = [], []
    for run in range(runs):
        with history_store.HistoryStore(url, password) as store:
            append.append(timed(lambda: store.append_audit(reports[run], scope)))
        record.append(timed(lambda: history.record_audit(url, reports[runs + run], scope, password=password)))
    return {"append_2000_vms_s": round(statistics.median(append), 3), "trend_90d_2000_vms_s": round(statistics.median(trend), 3),
            "record_audit_2000_vms_s": round(statistics.median(record), 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--collections", default=REPO + "/.build", help="a directory holding ansible_collections/veeam/enterprise_manager")
    options = parser.parse_args(argv)
    sys.path.insert(0, options.collections)
    sys.path.insert(0, os.path.join(REPO, "tests", "utils"))
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils import history, history_store  # pylint: disable=import-outside-toplevel
    from postgres_server import PostgresServer, PostgresUnavailable  # pylint: disable=import-outside-toplevel

    scope = history.audit_scope(["https://em.example.com:9398"], {})
    figures = {}
    scratch = tempfile.mkdtemp(prefix="bench-history-")
    try:
        sqlite = measure(history, history_store, os.path.join(scratch, "history.db"), options.runs, scope)
        figures.update({"history_sqlite_" + key: value for key, value in sqlite.items()})
        figures["history_sqlite_file_mb"] = round(os.path.getsize(os.path.join(scratch, "history.db")) / 2.0 ** 20, 1)
        try:
            server = PostgresServer.start()
        except PostgresUnavailable as exc:
            figures["history_postgresql_skipped"] = str(exc)[:200]
        else:
            try:
                import psycopg  # pylint: disable=import-outside-toplevel

                with psycopg.connect(server.url(), password=server.password, autocommit=True) as conn:
                    conn.execute("CREATE DATABASE bench")
                postgres = measure(history, history_store, server.url("bench"), options.runs, scope, password=server.password)
                figures.update({"history_postgresql_" + key: value for key, value in postgres.items()})
            finally:
                server.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # The machine is shared: the figures mean little without the load they were taken under.
    figures["history_load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
