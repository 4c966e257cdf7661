# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CDP policy settings as code: read a policy the way the audit does, compare it with a desired state, and
build the changes EM understands (``PUT /cdpPolicies/{ID}`` in EM's element order, ``?action=enable|disable``).

Waiting for the EM task a change starts lives in em_task.py. What was verified against which source is in
docs/cdp-policy.md ("What the bodies are based on").
"""

from __future__ import annotations

import json
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from .compliance_policy import describe_policy
from .decode import decode_document
from .em_types import query_spec
from .paging import QueryIterator
from .errors import EmError, InvalidInputError
from .filters import all_of, comparison
from .records import normalise_generic
from .timeutil import parse_duration

NAMESPACE = "http://www.veeam.com/ent/v1.0"
UID_PREFIX = "urn:veeam:CdpPolicy:"
LEVELS = (("rpo_warning", "MarkAsWarning", "warning"), ("rpo_error", "MarkAsFailed", "error"))
CANDIDATES_SHOWN = 20


class PolicySelectionError(EmError):
    """No policy, or more than one, matches the selection. The message lists the candidates."""

    def __init__(self, message, candidates):
        super().__init__(message, candidates=candidates)


# ------------------------------------------------------------------------------------------ input

def parse_seconds(option, value):
    """Whole seconds (>= 1) from a number or a duration such as ``15s`` or ``2m``; InvalidInputError otherwise."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise InvalidInputError(option, str(exc), "Use seconds (15) or a duration such as 15s, 2m or 1h.")
    if seconds < 1 or seconds != int(seconds):
        raise InvalidInputError(option, "%r is not a whole number of seconds of at least 1." % (value,),
                                "EM stores whole seconds; use for example 15s or 2m.")
    return int(seconds)


def desired_state(params):
    """The settings the user set, validated: {enabled?, rpo_seconds?, rpo_warning?: {enabled?, threshold_seconds?}, rpo_error?}."""
    desired = {}
    if params.get("enabled") is not None:
        desired["enabled"] = bool(params["enabled"])
    if params.get("rpo") is not None:
        desired["rpo_seconds"] = parse_seconds("rpo", params["rpo"])
    for option, dummy, dummy2 in LEVELS:
        value = params.get(option)
        if not value:
            continue
        level = {}
        if value.get("enabled") is not None:
            level["enabled"] = bool(value["enabled"])
        if value.get("threshold") is not None:
            level["threshold_seconds"] = parse_seconds("%s.threshold" % option, value["threshold"])
        if level:
            desired[option] = level
    return desired


def policy_uid(value):
    """``urn:veeam:CdpPolicy:<guid>`` from that UID or a bare GUID."""
    text = str(value).strip()
    if text.lower().startswith(UID_PREFIX.lower()):
        text = text[len(UID_PREFIX):]
    if not text or any(char in text for char in "/?#:\"\\ "):
        raise InvalidInputError("uid", "%r is not a CDP policy UID." % (value,), "Use urn:veeam:CdpPolicy:<guid> or the GUID alone.")
    return UID_PREFIX + text


def guid_of(uid):
    return uid[len(UID_PREFIX):] if uid.lower().startswith(UID_PREFIX.lower()) else uid


# ------------------------------------------------------------------------------------------ reading

def _whole(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def normalise_policy(record):
    """A CdpPolicy record (normalise_generic of EM's entity) as the facts the audit reads, plus a few plain fields.

    Enabled state, RPO and RPO reporting come from the audit's own readers (describe_policy), so this module and
    the audit can never disagree about a policy.
    """
    facts = describe_policy(record)
    reporting = facts["rpo_reporting"]
    return {
        "uid": facts["uid"],
        "name": facts["name"],
        "backup_server": facts["backup_server"],
        "backup_server_uid": facts["backup_server_uid"],
        "platform": facts["platform"],
        "description": record.get("description"),
        "enabled": facts["enabled"],
        "rpo_seconds": _whole(facts["rpo_seconds"]),
        "rpo_warning": {"enabled": reporting["warning"]["enabled"], "threshold_seconds": _whole(reporting["warning"]["threshold_seconds"])},
        "rpo_error": {"enabled": reporting["error"]["enabled"], "threshold_seconds": _whole(reporting["error"]["threshold_seconds"])},
        "next_run": record.get("next_run"),
        "vms_included": facts["vms_included"],
    }


def policy_spec(filter_expression="", response_format="json"):
    return query_spec("CdpPolicy", filter_expression, page_size=100, response_format=response_format)


def list_policies(client, filter_expression="", response_format="json"):
    """Every CdpPolicy matching the filter, normalised."""
    iterator = QueryIterator(client, policy_spec(filter_expression, response_format))
    try:
        return [normalise_policy(record) for record in iterator]
    finally:
        iterator.close()


def read_policy(client, uid):
    """The policy's current entity (``GET /cdpPolicies/{ID}?format=Entity``), normalised."""
    path = "/api/cdpPolicies/%s" % quote(guid_of(uid), safe="")
    response = client.request("GET", path, params="format=Entity", expected=(200,))
    dummy, raw = decode_document(response.content, response.headers.get("Content-Type"))
    return normalise_policy(normalise_generic(raw))


def _label(policy):
    return "%s on %s (%s)" % (policy["name"], policy["backup_server"] or "unknown backup server", policy["uid"])


def _candidates_text(policies):
    shown = [_label(policy) for policy in policies[:CANDIDATES_SHOWN]]
    more = len(policies) - len(shown)
    return "; ".join(shown) + (" and %d more" % more if more > 0 else "") if shown else "none"


def select_policy(client, uid=None, name=None, backup_server_name=None):
    """The one policy the options name. PolicySelectionError (with the candidates) when none or several match."""
    terms = [comparison("UID", "==", uid)] if uid else [comparison("Name", "==", name)]
    if backup_server_name:
        terms.append(comparison("BackupServerName", "==", backup_server_name))
    matches = list_policies(client, all_of(terms))
    if name:
        # EM's string comparison may ignore case: prefer the exact spelling when it is there.
        exact = [policy for policy in matches if policy["name"] == name]
        matches = exact or matches
    if len(matches) == 1:
        return matches[0]
    wanted = "uid %s" % uid if uid else "name '%s'%s" % (name, " on backup server '%s'" % backup_server_name if backup_server_name else "")
    if matches:
        fix = "Select the policy by uid." if backup_server_name or uid else "Set backup_server_name, or select the policy by uid."
        raise PolicySelectionError("%d CDP policies match %s: %s. %s" % (len(matches), wanted, _candidates_text(matches), fix),
                                   [_label(policy) for policy in matches])
    everything = list_policies(client)
    raise PolicySelectionError("No CDP policy matches %s. Policies EM knows: %s." % (wanted, _candidates_text(everything)),
                               [_label(policy) for policy in everything[:CANDIDATES_SHOWN]])


# ------------------------------------------------------------------------------------------ comparing

def managed_view(policy, desired):
    """The settings of ``policy`` that ``desired`` manages, in the same shape as ``desired``."""
    view = {}
    for key, value in desired.items():
        if isinstance(value, dict):
            view[key] = {inner: policy[key].get(inner) for inner in value}
        else:
            view[key] = policy[key]
    return view


def differences(policy, desired):
    """The part of ``desired`` that differs from ``policy`` (same shape; empty when EM already matches)."""
    changes = {}
    for key, value in desired.items():
        if isinstance(value, dict):
            inner = {name: wanted for name, wanted in value.items() if policy[key].get(name) != wanted}
            if inner:
                changes[key] = inner
        elif policy[key] != value:
            changes[key] = value
    return changes


def apply_changes(view, changes):
    """``view`` with ``changes`` applied (the "after" of diff mode)."""
    after = {key: dict(value) if isinstance(value, dict) else value for key, value in view.items()}
    for key, value in changes.items():
        if isinstance(value, dict):
            after[key].update(value)
        else:
            after[key] = value
    return after


# ------------------------------------------------------------------------------------------ PUT body

def split_seconds(total):
    """(seconds, minutes) for EM's Seconds/Minutes pair: whole minutes as minutes, anything else as seconds.

    EM adds the two (a 15 s RPO is 15 and 0, a 5 min RPO 0 and 5), so both are always sent and never add up twice.
    """
    return (0, total // 60) if total % 60 == 0 else (total, 0)


def _reporting_children(policy, changes):
    """[(element, [(child, value), ...])] for MarkAsWarning/MarkAsFailed, in EM's order, for the levels that change."""
    result = []
    for option, element, dummy in LEVELS:
        change = changes.get(option)
        if not change:
            continue
        # Enabled always goes along (the current value when only the threshold changes): whether EM accepts the element without it is unknown.
        enabled = change.get("enabled", policy[option]["enabled"])
        children = [("Enabled", bool(enabled) if enabled is not None else True)]
        if "threshold_seconds" in change:
            seconds, minutes = split_seconds(change["threshold_seconds"])
            children += [("RPOThresholdSeconds", seconds), ("RPOThresholdMinutes", minutes)]
        result.append((element, children))
    return result


def _schedule_options(policy, changes):
    """The ``CdpReplica`` children to send, in EM's element order (RPO, then RPOReporting)."""
    children = []
    if "rpo_seconds" in changes:
        seconds, minutes = split_seconds(changes["rpo_seconds"])
        children += [("RecoveryPointObjectiveSeconds", seconds), ("RecoveryPointObjectiveMinutes", minutes)]
    reporting = _reporting_children(policy, changes)
    if reporting:
        children.append(("RPOReporting", reporting))
    return children


def needs_put(changes):
    return any(key in changes for key in ("rpo_seconds", "rpo_warning", "rpo_error"))


def _xml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _xml(children, indent):
    lines = []
    for tag, value in children:
        if isinstance(value, list):
            lines.append("%s<%s>" % (indent, tag))
            lines.extend(_xml(value, indent + "  "))
            lines.append("%s</%s>" % (indent, tag))
        else:
            lines.append("%s<%s>%s</%s>" % (indent, tag, _xml_value(value), tag))
    return lines


def _json(children):
    return {tag: _json(value) if isinstance(value, list) else value for tag, value in children}


def put_body(policy, changes, body_format="xml"):
    """(body text, content type name) of ``PUT /cdpPolicies/{ID}`` carrying only the changed settings."""
    tree = [("PolicyScheduleOptions", [("CdpReplica", _schedule_options(policy, changes))])]
    if body_format == "json":
        document = {"Type": "CdpPolicy", "UID": policy["uid"], "Name": policy["name"]}
        document.update(_json(tree))
        return json.dumps(document), "json"
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<CdpPolicy xmlns="%s" Type="CdpPolicy" Name=%s UID=%s>' % (NAMESPACE, quoteattr(policy["name"] or ""), quoteattr(policy["uid"]))]
    lines.extend(_xml(tree, "  "))
    lines.append("</CdpPolicy>")
    return "\n".join(lines) + "\n", "xml"
