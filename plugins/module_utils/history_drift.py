# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift between two audits of the same scope: findings that are new, resolved or persisting, targets that came or went.

A finding is identified by its target (VM name, or policy uid else name), rule and code. Waived findings
are accepted exceptions: never new or persisting, and a finding waived since the previous audit is not
resolved either (it is still there). Findings of a target that left the scope are not resolved: the
target is listed under ``disappeared`` instead.
"""

from __future__ import annotations

from .history_store import result_rows

DRIFT_LISTS = ("new", "resolved", "persisting", "appeared", "disappeared")


def _text_list(value):
    if value is None or value == "":
        return None
    values = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return sorted({str(item).strip() for item in values if str(item).strip()})


def audit_scope(em_hosts, params):
    """What makes two audits comparable: the EM hosts, the expected VMs and the name and raw filters."""
    return {
        "em_hosts": sorted({str(host) for host in em_hosts}),
        "expected_vms": sorted({str(name) for name in params.get("expected_vms") or ()}),
        "vm_display_name": _text_list(params.get("vm_display_name")),
        "backup_server_name": _text_list(params.get("backup_server_name")),
        "filter": params.get("filter") or None,
    }


def _target(kind, name, uid):
    return (kind, uid if kind == "policy" and uid else name)


def _entry(kind, name, uid, extra=None):
    entry = {"vm": name} if kind == "vm" else {"policy": name, "policy_uid": uid}
    entry.update(extra or {})
    return entry


def _finding_map(rows, waived_too=False):
    """{(target, rule, code): finding entry} of the (unwaived) findings among (kind, name, uid, rule, code, severity, waived, message) rows."""
    found = {}
    for kind, name, uid, rule, code, severity, waived, message in rows:
        if waived and not waived_too:
            continue
        found.setdefault((_target(kind, name, uid), rule, code),
                         _entry(kind, name, uid, {"rule": rule, "code": code, "severity": severity, "message": message}))
    return found


def _targets(rows):
    """{target: (kind, name, uid)} of (kind, name, uid, ...) result rows."""
    return {_target(row[0], row[1], row[2]): (row[0], row[1], row[2]) for row in rows}


def empty_drift():
    return dict({"previous_audit": None}, **{name: [] for name in DRIFT_LISTS})


def drift(previous, report):
    """The drift of ``report`` from ``previous`` (HistoryStore.previous_audit(), or None for a first audit)."""
    if previous is None:
        return empty_drift()
    results, findings = result_rows(report)
    current_targets = _targets([target for target, _values in results])
    previous_targets = _targets(previous["results"])
    finding_rows = [target + values for target, values in findings]
    current = _finding_map(finding_rows)
    still_there = _finding_map(finding_rows, waived_too=True)
    before = _finding_map(previous["findings"])
    result = {
        "previous_audit": {key: previous[key] for key in ("id", "audited_at", "verdict", "evidence_sha256", "window")},
        "new": [current[key] for key in current if key not in before],
        "persisting": [current[key] for key in current if key in before],
        # Not resolved: a finding waived since (it is still there), or one of a target that is gone (nobody looked).
        "resolved": [before[key] for key in before if key not in still_there and key[0] in current_targets],
        "appeared": [_entry(*current_targets[key]) for key in current_targets if key not in previous_targets],
        "disappeared": [_entry(*previous_targets[key]) for key in previous_targets if key not in current_targets],
    }
    for name in DRIFT_LISTS:
        result[name].sort(key=_sort_key)
    return result


def _sort_key(entry):
    return ("vm" not in entry, entry.get("vm") or entry.get("policy") or "", entry.get("rule") or "", entry.get("code") or "")


def drift_counts(drift_result):
    """{list: number of entries}, what set_stats publishes for notifications."""
    return {name: len(drift_result.get(name) or ()) for name in DRIFT_LISTS}
