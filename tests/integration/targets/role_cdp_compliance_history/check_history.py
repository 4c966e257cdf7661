# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check two audits written by the role with a history store: check_history.py STORE FIRST.json SECOND.json LOG.

The drift is recomputed here from the two JSON evidence files alone, and each file's SHA-256 (as docs/history.md
says to compute it) must equal the one in the report and the one in the SQLite store. The set_stats summary
(the RUN line of the custom stats in LOG) carries the second audit's drift counts.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys


def load(path):
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def evidence_sha256(report):
    core = {key: value for key, value in report.items() if key not in ("drift", "trends", "history")}
    return hashlib.sha256(json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()


def targets(report):
    found = {("vm", vm["name"]) for vm in report["vms"]}
    return found | {("policy", policy["uid"] or policy["name"]) for policy in report["policies"]}


def findings(report, waived_too=False):
    found = set()
    for kind, entries in (("vm", report["vms"]), ("policy", report["policies"])):
        for entry in entries:
            target = (kind, entry["name"] if kind == "vm" else entry["uid"] or entry["name"])
            found.update((target, item["rule"], item["code"]) for item in entry["findings"] if waived_too or not item["waived"])
    return found


def keys(entries):
    result = set()
    for entry in entries:
        target = ("vm", entry["vm"]) if "vm" in entry else ("policy", entry["policy_uid"] or entry["policy"])
        result.add((target, entry["rule"], entry["code"]) if "rule" in entry else target)
    return result


def run_stats(log_path):
    with open(log_path, encoding="utf-8") as stream:
        for line in stream:
            if line.strip().startswith("RUN:"):
                return json.loads(line.split("RUN:", 1)[1])
    raise AssertionError("no RUN custom stats in %s" % log_path)


def main(store, first_path, second_path, log_path):
    first, second = load(first_path), load(second_path)
    with sqlite3.connect(store) as conn:
        stored = dict(conn.execute("SELECT id, evidence_sha256 FROM audits"))
    assert len(stored) == 2, stored
    for report in (first, second):
        digest = evidence_sha256(report)
        assert digest == report["history"]["evidence_sha256"] == stored[report["history"]["audit_id"]], (digest, report["history"])

    assert first["drift"]["previous_audit"] is None
    assert all(first["drift"][name] == [] for name in ("new", "resolved", "persisting", "appeared", "disappeared")), first["drift"]
    drift = second["drift"]
    assert drift["previous_audit"]["id"] == first["history"]["audit_id"]
    assert drift["previous_audit"]["evidence_sha256"] == first["history"]["evidence_sha256"]
    before, after = findings(first), findings(second)
    still_in_scope = targets(second)
    assert keys(drift["new"]) == after - before, (keys(drift["new"]), after - before)
    assert keys(drift["persisting"]) == after & before
    assert keys(drift["resolved"]) == {item for item in before - findings(second, True) if item[0] in still_in_scope}
    assert keys(drift["appeared"]) == targets(second) - targets(first)
    assert keys(drift["disappeared"]) == targets(first) - targets(second)
    # The two data sets (runme.sh) are chosen so that every list has entries.
    assert all(drift[name] for name in ("new", "resolved", "persisting", "appeared", "disappeared")), drift
    assert second["trends"]["audits"] == 2 and {entry["vm"] for entry in second["trends"]["vms"]} >= {vm["name"] for vm in second["vms"]}
    counts = {name: len(drift[name]) for name in ("new", "resolved", "persisting", "appeared", "disappeared")}
    published = run_stats(log_path)["cdp_compliance"]["ems"]["em_sim"]["drift"]
    assert published == counts, (published, counts)
    print("drift, evidence hashes and set_stats check out: %s" % counts)


if __name__ == "__main__":
    main(*sys.argv[1:5])
