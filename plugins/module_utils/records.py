# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalise raw EM items into stable records.

EM v12 JSON uses PascalCase, v13 camelCase, XML uses PascalCase; every lookup here is
case-insensitive so all three give identical records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .decode import key_lookup, lower_keys
from .errors import DecodeError
from .timeutil import em_epoch, em_time_text, format_utc, parse_em_time

_SNAKE_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_SNAKE_2 = re.compile(r"([a-z0-9])([A-Z])")
_snake_cache = {}


def snake_case(name):
    """CreationTimeUTC, creationTimeUTC -> creation_time_utc; UID, uid -> uid; RPOReporting -> rpo_reporting."""
    cached = _snake_cache.get(name)
    if cached is None:
        text = _SNAKE_2.sub(r"\1_\2", _SNAKE_1.sub(r"\1_\2", name))
        cached = text.replace("-", "_").replace(" ", "_").lower()
        _snake_cache[name] = cached
    return cached


def normalise_links(links):
    """Links as a list of {rel, type, href, name}, from an XML list or JSON array in any key case."""
    if not links or not isinstance(links, (list, tuple)):
        return []
    result = []
    for link in links:
        if not isinstance(link, dict):
            continue
        lowered = lower_keys(link)
        result.append({
            "rel": lowered.get("rel"),
            "type": lowered.get("type"),
            "href": lowered.get("href"),
            "name": lowered.get("name"),
        })
    return result


def _time(value):
    try:
        parsed = parse_em_time(value)
    except ValueError:
        # A bad timestamp from EM must fail as a decode error, not as a traceback.
        raise DecodeError("EM returned a time that is not ISO 8601: %r" % (str(value)[:64],))
    return parsed, format_utc(parsed)


def _text(value):
    if value.__class__ is str:  # the common case first: this runs eight times per record
        return value if value.strip() else None
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return str(value)


def _int(value):
    if value.__class__ is int:
        return value
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


_server_urns = {}


def backup_server_urn(href):
    """urn:veeam:BackupServer:<guid> from a BackupServerReference link's Href (its last path segment); None without one."""
    if not href or not isinstance(href, str):
        return None
    urn = _server_urns.get(href)
    if urn is None:
        guid = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        urn = "urn:veeam:BackupServer:%s" % guid if guid else ""
        # Every session names one of a few backup servers: parse each href once.
        if len(_server_urns) < 1024:
            _server_urns[href] = urn
    return urn or None


def backup_server_from_links(record):
    """(uid, name) of the Up BackupServerReference link of a raw item or normalised record (any key case),
    else of its backup_server_uid / backup_server_name fields."""
    if not isinstance(record, Mapping):
        return None, None
    links = key_lookup(record, "links")
    for link in normalise_links(links):
        if str(link["type"] or "").lower() == "backupserverreference" and str(link["rel"] or "up").lower() == "up":
            return backup_server_urn(link["href"]), _text(link["name"])
    return _text(key_lookup(record, "backup_server_uid")), _text(key_lookup(record, "backup_server_name"))


# Field names as EM sends them in XML and v12 JSON (the common case, read directly), and lower-cased for
# any other casing (v13 camelCase JSON), read through a lower-cased copy of the item.
_TASK_FIELDS = (
    ("uid", "UID"), ("name", "Name"), ("vmdisplayname", "VmDisplayName"), ("policysessionuid", "PolicySessionUid"),
    ("creationtimeutc", "CreationTimeUTC"), ("endtimeutc", "EndTimeUTC"), ("state", "State"), ("result", "Result"),
    ("reason", "Reason"), ("totalsize", "TotalSize"), ("href", "Href"), ("links", "Links"),
)
_PASCAL_NAMES = tuple(pascal for dummy, pascal in _TASK_FIELDS)
_LOWER_NAMES = tuple(lower for lower, dummy in _TASK_FIELDS)


def _task_time(value):
    """(aware UTC datetime, normalised text) of a task-session time, as _time() gives them.

    Quicker than _time() for EM's own UTC text, which is kept rather than formatted again: this runs twice
    for every record. Anything else, a bad time included (a DecodeError), goes through _time().
    """
    try:
        moment = parse_em_time(value)
    except ValueError:
        moment = None
    if moment is None:
        return _time(value)
    return moment, em_time_text(value, moment)


def _pascal_links(links):
    """normalise_links() for a list of links keyed exactly as EM's XML and v12 JSON key them."""
    result = []
    for link in links:
        if not isinstance(link, dict) or "Rel" not in link:
            return normalise_links(links)
        result.append({"rel": link.get("Rel"), "type": link.get("Type"), "href": link.get("Href"), "name": link.get("Name")})
    return result


def _up_links(links):
    """(backup server href, backup server name, policy session name) from EM's Up links."""
    server_href = server_name = policy_session_name = None
    for link in links:
        if link["rel"] != "Up":
            continue
        kind = link["type"]
        if kind == "BackupServerReference":
            server_href, server_name = link["href"], link["name"]
        elif kind == "CdpReplicaSessionReference":
            policy_session_name = link["name"]
    return server_href, server_name, policy_session_name


def _pascal_up_links(links):
    """_up_links() read straight from EM's PascalCase links, building no link records; None for any other shape."""
    server_href = server_name = policy_session_name = None
    for link in links:
        if link.__class__ is not dict or "Rel" not in link:
            return None
        if link["Rel"] != "Up":
            continue
        kind = link.get("Type")
        if kind == "BackupServerReference":
            server_href, server_name = link.get("Href"), link.get("Name")
        elif kind == "CdpReplicaSessionReference":
            policy_session_name = link.get("Name")
    return server_href, server_name, policy_session_name


def _task_values(raw, include_links):
    """The raw values of _TASK_FIELDS (links normalised when include_links), then (backup server href, backup server
    name, policy session name) from EM's Up links."""
    if "UID" in raw:
        values = list(map(raw.get, _PASCAL_NAMES))
        links = values[-1]
        facts = _pascal_up_links(links) if links.__class__ is list and not include_links else None
        if facts is None:
            links = values[-1] = _pascal_links(links) if isinstance(links, list) else normalise_links(links)
    else:
        item = lower_keys(raw)
        values = list(map(item.get, _LOWER_NAMES))
        links = values[-1] = normalise_links(values[-1])
        facts = None
    return values, facts or _up_links(links)


def normalise_task_session(raw, include_links=False):
    """A raw CdpReplicaTaskSession item -> the normalised record documented in docs/architecture.md.

    The record carries what EM's links say (backup server, policy session name); the links themselves,
    most of the record's size, are added only with include_links.
    """
    values, (server_href, server_name, policy_session_name) = _task_values(raw, include_links)
    uid, name, vm, policy_session, created, ended, state, result, reason, size, href, links = values
    created, created_text = _task_time(created)
    ended, ended_text = _task_time(ended)
    record = {
        "uid": _text(uid),
        "name": _text(name),
        "vm_display_name": _text(vm),
        "policy_session_uid": _text(policy_session),
        "policy_session_name": policy_session_name,
        "backup_server_uid": backup_server_urn(server_href),
        "backup_server_name": server_name,
        "creation_time_utc": created_text,
        "end_time_utc": ended_text,
        "state": _text(state),
        "result": _text(result),
        "reason": _text(reason),
        "total_size": _int(size),
        "duration_seconds": round((ended - created).total_seconds(), 3) if created and ended else None,
        "href": _text(href),
    }
    if include_links:
        record["links"] = links
    return record


def fold_task_session(raw):
    """The part of normalise_task_session(raw) the compliance evaluator reads, plus the two times as seconds since
    the epoch (start_s, end_s; None where em_epoch() of the time's text is None), so that it parses none of them again.

    For the audit, which folds each session into the evaluator and keeps no record: same fields, same values, same
    DecodeError for a bad time, without href, total_size, duration_seconds and links.
    """
    values, (server_href, server_name, policy_session_name) = _task_values(raw, False)
    uid, name, vm, policy_session, created, ended, state, result, reason = values[:9]
    created, created_text = _task_time(created)
    ended, ended_text = _task_time(ended)
    return {
        "uid": _text(uid),
        "name": _text(name),
        "vm_display_name": _text(vm),
        "policy_session_uid": _text(policy_session),
        "policy_session_name": policy_session_name,
        "backup_server_uid": backup_server_urn(server_href),
        "backup_server_name": server_name,
        "creation_time_utc": created_text,
        "end_time_utc": ended_text,
        "state": _text(state),
        "result": _text(result),
        "reason": _text(reason),
        "start_s": _text_epoch(created, created_text),
        "end_s": _text_epoch(ended, ended_text),
    }


def _text_epoch(moment, text):
    """em_epoch(text) for the text _task_time() gave with moment, without parsing it again.

    The text shows moment to the millisecond. A year before 1000 comes unpadded out of format_utc(), text no
    parser reads: em_epoch() judges that one.
    """
    if moment is None:
        return None
    if text[4:5] != "-":
        return em_epoch(text)
    micro = moment.microsecond % 1000
    return (moment.replace(microsecond=moment.microsecond - micro) if micro else moment).timestamp()


def normalise_generic(raw):
    """Any EM item: keys in snake_case, nested dicts kept, repeated elements as lists, Links as a list.

    Empty values are left out: XML omits an empty element where JSON sends null, and both must give one record.
    """
    record = {}
    for key, value in raw.items():
        name = snake_case(str(key))
        if name == "links":
            record["links"] = normalise_links(value)
            continue
        value = _generic_value(value)
        if value is not None:
            record[name] = value
    return record


def _generic_value(value):
    if isinstance(value, dict):
        return normalise_generic(value)
    if isinstance(value, list):
        return [_generic_value(item) for item in value]
    if isinstance(value, str) and not value.strip():
        return None
    return value


def record_uid(raw):
    """The UID of a raw item, whatever the key case; None when it has none."""
    # EM's two spellings first: this runs for every record while paging.
    return raw.get("UID") or raw.get("uid") or key_lookup(raw, "uid") or None
