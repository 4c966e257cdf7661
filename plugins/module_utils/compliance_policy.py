# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CDP policies and policy sessions, read from the fields EM documents for CdpPolicy and CdpReplicaSession.

Field names are matched ignoring case, ``_`` and ``-``, so one path reads EM 12's PascalCase JSON, EM 13's
camelCase JSON, and the snake_case generic records that query_info makes of XML or JSON. Other shapes are
not guessed: a missing field gives None (for the RPO: the info finding ``rpo_unknown``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .records import backup_server_from_links

# PolicyScheduleOptions/CdpReplica holds RecoveryPointObjectiveSeconds|Minutes and RPOReporting.
_CDP_OPTIONS = ("policy_schedule_options", "cdp_replica")
_REPORTING_LEVELS = (("warning", "mark_as_warning"), ("error", "mark_as_failed"))
# CdpPolicyInfo/CdpReplicaPolicyInfo/Includes: ObjectInJob items with Name and DisplayName.
_INCLUDES = ("cdp_policy_info", "cdp_replica_policy_info", "includes")
_NON_ALNUM = re.compile(r"[^a-z0-9]")


def field_key(key):
    """A field name as compared here: ``RPOReporting``, ``rpoReporting`` and ``rpo_reporting`` are one key."""
    return _NON_ALNUM.sub("", str(key).lower())


def field(record, *names):
    """Value of the first of ``names`` present in ``record`` (compared by field_key), else None."""
    if not isinstance(record, Mapping):
        return None
    for name in names:
        if name in record:
            return record[name]
    keyed = {field_key(key): value for key, value in record.items()}
    for name in names:
        name = field_key(name)
        if name in keyed:
            return keyed[name]
    return None


def field_path(record, *path):
    """``field`` followed down nested records, e.g. ("policy_schedule_options", "cdp_replica")."""
    for name in path:
        record = field(record, name)
    return record


def as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "on", "1", "enabled"):
            return True
        if text in ("false", "no", "off", "0", "disabled"):
            return False
    return None


def as_number(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def text(value):
    """Text of a value; None for None and blank text."""
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None


def _minutes_and_seconds(record, prefix):
    """``<prefix>Minutes * 60 + <prefix>Seconds``: EM splits each duration of a CDP policy in two fields."""
    minutes = as_number(field(record, prefix + "_minutes"))
    seconds = as_number(field(record, prefix + "_seconds"))
    if minutes is None and seconds is None:
        return None
    return (minutes or 0.0) * 60 + (seconds or 0.0)


def policy_rpo_seconds(policy):
    """PolicyScheduleOptions/CdpReplica/RecoveryPointObjective{Minutes,Seconds} in seconds, or None."""
    return _minutes_and_seconds(field_path(policy, *_CDP_OPTIONS), "recovery_point_objective")


def policy_rpo_reporting(policy):
    """RPOReporting/MarkAsWarning|MarkAsFailed: ``{"warning": {"enabled", "threshold_seconds"}, "error": {...}}``.

    Values are None when EM did not send them.
    """
    reporting = field_path(policy, *(_CDP_OPTIONS + ("rpo_reporting",)))
    result = {}
    for level, name in _REPORTING_LEVELS:
        mark = field(reporting, name)
        result[level] = {"enabled": as_bool(field(mark, "enabled")), "threshold_seconds": _minutes_and_seconds(mark, "rpo_threshold")}
    return result


def policy_enabled(policy):
    """The policy's ScheduleEnabled; an explicit enabled/disabled flag, where a record carries one, wins."""
    enabled = as_bool(field(policy, "is_enabled", "enabled"))
    if enabled is not None:
        return enabled
    disabled = as_bool(field(policy, "is_disabled", "disabled"))
    if disabled is not None:
        return not disabled
    return as_bool(field(policy, "schedule_enabled"))


def policy_vm_names(policy):
    """Names of the VMs in the policy's Includes (DisplayName, else Name), in order, without repeats."""
    includes = field_path(policy, *_INCLUDES)
    names = []
    for item in includes if isinstance(includes, (list, tuple)) else ():
        name = text(field(item, "display_name", "name"))
        if name is not None and name not in names:
            names.append(name)
    return names


def describe_policy(policy):
    """Plain summary of a CDP policy record."""
    uid, name = backup_server_from_links(policy)
    return {
        "uid": text(field(policy, "uid", "id")),
        "name": text(field(policy, "name")),
        "platform": text(field(policy, "platform")),
        "backup_server": name,
        "backup_server_uid": uid,
        "enabled": policy_enabled(policy),
        "rpo_seconds": policy_rpo_seconds(policy),
        "rpo_reporting": policy_rpo_reporting(policy),
        "vms_included": policy_vm_names(policy),
        "known": True,
    }


def unknown_policy(uid, name):
    """describe_policy() of a policy that policy sessions name but the policy list lacks."""
    return {
        "uid": uid, "name": name, "platform": None, "backup_server": None, "backup_server_uid": None, "enabled": None,
        "rpo_seconds": None, "rpo_reporting": {level: {"enabled": None, "threshold_seconds": None} for level, _name in _REPORTING_LEVELS},
        "vms_included": [], "known": False,
    }


def describe_policy_session(record):
    """Plain summary of a CdpReplicaSession (policy session) record."""
    return {
        "uid": text(field(record, "uid", "id")),
        "name": text(field(record, "name")),
        "policy_uid": text(field(record, "policy_uid")),
        "policy_name": text(field(record, "policy_name")),
        "state": text(field(record, "state")),
        "result": text(field(record, "result")),
        "creation_time_utc": text(field(record, "creation_time_utc", "creation_time")),
        "end_time_utc": text(field(record, "end_time_utc", "end_time")),
        "failure_message": text(field(record, "failure_message")),
    }
