# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalise raw EM items into stable records.

EM v12 JSON uses PascalCase, v13 camelCase, XML uses PascalCase; every lookup here is
case-insensitive so all three give identical records.
"""

from __future__ import annotations

import re

from .errors import DecodeError
from .timeutil import format_utc, parse_em_time

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
    if not links:
        return []
    if isinstance(links, dict):
        # Some serialisers wrap the array: {"Link": [...]}.
        inner = next((value for value in links.values() if isinstance(value, list)), [links])
        links = inner
    if not isinstance(links, (list, tuple)):
        return []
    result = []
    for link in links:
        if not isinstance(link, dict):
            continue
        lowered = {str(key).lower(): value for key, value in link.items()}
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
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return str(value)


def _int(value):
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _guid_from_href(href):
    if not href or not isinstance(href, str):
        return None
    tail = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or None


def normalise_task_session(raw):
    """A raw CdpReplicaTaskSession item -> the normalised record documented in docs/architecture.md."""
    item = {str(key).lower(): value for key, value in raw.items()}
    links = normalise_links(item.get("links"))
    server_link = None
    policy_session_link = None
    for link in links:
        if link["rel"] != "Up":
            continue
        if link["type"] == "BackupServerReference":
            server_link = link
        elif link["type"] == "CdpReplicaSessionReference":
            policy_session_link = link
    created, created_text = _time(item.get("creationtimeutc"))
    ended, ended_text = _time(item.get("endtimeutc"))
    server_guid = _guid_from_href(server_link["href"]) if server_link else None
    return {
        "uid": _text(item.get("uid")),
        "name": _text(item.get("name")),
        "vm_display_name": _text(item.get("vmdisplayname")),
        "policy_session_uid": _text(item.get("policysessionuid")),
        "policy_session_name": policy_session_link["name"] if policy_session_link else None,
        "backup_server_uid": "urn:veeam:BackupServer:%s" % server_guid if server_guid else None,
        "backup_server_name": server_link["name"] if server_link else None,
        "creation_time_utc": created_text,
        "end_time_utc": ended_text,
        "state": _text(item.get("state")),
        "result": _text(item.get("result")),
        "reason": _text(item.get("reason")),
        "total_size": _int(item.get("totalsize")),
        "duration_seconds": round((ended - created).total_seconds(), 3) if created and ended else None,
        "href": _text(item.get("href")),
        "links": links,
    }


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
    for key in ("UID", "uid", "Uid"):
        value = raw.get(key)
        if value:
            return value
    return None
