# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn module/lookup options into validated queries, run them, and shape the results.

Everything here validates before the first request, so bad input never costs a logon.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
from typing import Any, Optional

from .em_types import CDP_TASK_SESSION, query_spec
from .errors import InvalidInputError
from .filters import all_of, any_of, check_length, comparison, generic_filters, time_value, wrap_raw
from .options import DEFAULT_PAGE_SIZE
from .paging import QuerySpec, QueryIterator, gc_paused
from .records import normalise_generic, normalise_task_session, snake_case
from .timeutil import parse_em_time, utcnow

try:
    import jmespath
    import jmespath.exceptions
    HAS_JMESPATH = True
    JMESPATH_IMPORT_ERROR = None
except ImportError as exc:  # reported by the modules via missing_required_lib
    HAS_JMESPATH = False
    JMESPATH_IMPORT_ERROR = exc

MAX_PAGE_SIZE = 1000
CDP_STATES = ("InProgress", "Pending", "Completed")
TIME_RECORD_KEYS = {"CreationTimeUTC": "creation_time_utc", "EndTimeUTC": "end_time_utc"}
RESULTS = ("Success", "Warning", "Failed", "None")

# option -> (EM field, operator, kind). Lists are ORed within a field; options are ANDed.
CDP_TYPED_FILTERS = (
    ("id", "Id", "==", "text"),
    ("name", "Name", "==", "text"),
    ("vm_display_name", "VmDisplayName", "==", "text"),
    ("policy_session_uid", "PolicySessionUid", "==", "text"),
    ("policy_session_name", "PolicySessionName", "==", "text"),
    ("backup_server_uid", "BackupServerUid", "==", "text"),
    ("backup_server_name", "BackupServerName", "==", "text"),
    ("state", "State", "==", "state"),
    ("reason", "Reason", "==", "text"),
    ("total_size_min", "TotalSize", ">=", "size"),
    ("total_size_max", "TotalSize", "<=", "size"),
    ("created_after", "CreationTimeUTC", ">=", "time"),
    ("created_before", "CreationTimeUTC", "<=", "time"),
    ("ended_after", "EndTimeUTC", ">=", "time"),
    ("ended_before", "EndTimeUTC", "<=", "time"),
)

_TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,63}$")


@dataclasses.dataclass
class PreparedQuery:
    """A validated query plus the client-side steps applied after fetching."""

    spec: QuerySpec
    record_key: str
    max_records: Optional[int] = None
    # Lower-cased results to keep (task sessions: EM cannot filter on Result).
    result_filter: Optional[frozenset] = None
    # A compiled JMESPath expression, and its text.
    projection: Any = None
    projection_text: Optional[str] = None
    # (record key, operator, aware datetime): sub-second bounds applied after fetching.
    time_checks: tuple = ()


@dataclasses.dataclass
class _CommonOptions:
    """The options every query kind shares, validated."""

    page_size: int
    max_records: Optional[int]
    projection: Any
    projection_text: Optional[str]
    entity_format: str


def text_values(option, value):
    """A string or a list of strings (ORed). Ansible's list type would split on commas; names and reasons contain commas."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise InvalidInputError(option, "the list is empty.", "Give at least one value, or leave the option out.")
    result = []
    for item in values:
        if item is None or isinstance(item, (dict, list, tuple, bool)):
            raise InvalidInputError(option, "%r is not a string." % (item,), "Give a string or a list of strings.")
        result.append(str(item))
    return result


def _choice_values(option, value, choices):
    canonical = {choice.lower(): choice for choice in choices}
    result = []
    for item in text_values(option, value):
        key = item.strip().lower()
        if key not in canonical:
            raise InvalidInputError(option, "%r is not one of %s." % (item, ", ".join(choices)), "Use one of those values (case does not matter).")
        result.append(canonical[key])
    return result


def paging_limits(params):
    """(page_size, max_records) from the options, validated; shared by the queries and the audit."""
    page_size = params.get("page_size")
    if page_size is None:
        page_size = DEFAULT_PAGE_SIZE
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError("page_size", "%d is out of range." % page_size, "Use a number from 1 to %d (EM's own default is 100)." % MAX_PAGE_SIZE)
    max_records = params.get("max_records")
    if max_records is not None and max_records < 1:
        raise InvalidInputError("max_records", "%d is not a positive number." % max_records, "Use 1 or more, or leave it unset to fetch everything.")
    return page_size, max_records


def _common(params):
    page_size, max_records = paging_limits(params)
    projection = None
    # jmespath is needed only when the option is set: checked here, not when the module starts.
    text = params.get("jmespath")
    if text:
        if not HAS_JMESPATH:
            raise InvalidInputError("jmespath", "the jmespath Python library is not installed (%s)." % JMESPATH_IMPORT_ERROR,
                                    "Install it (pip install jmespath) where the task runs, or leave jmespath unset.")
        try:
            projection = jmespath.compile(text)
        except jmespath.exceptions.JMESPathError as exc:
            raise InvalidInputError("jmespath", "not a valid JMESPath expression: %s" % exc, "See https://jmespath.org for the syntax.")
    entity_format = "References" if (params.get("format") or "entities") == "references" else "Entities"
    return _CommonOptions(page_size, max_records, projection, text, entity_format)


def prepare_cdp_query(params, now=None):
    """Options of cdp_replica_task_session_info / the cdp_replica_task_sessions lookup -> PreparedQuery."""
    now = now or utcnow()
    common = _common(params)
    terms = []
    bounds = {}
    time_checks = []
    for option, field, operator, kind in CDP_TYPED_FILTERS:
        value = params.get(option)
        if value is None:
            continue
        if kind == "text":
            terms.append(any_of([comparison(field, operator, item) for item in text_values(option, value)]))
        elif kind == "state":
            terms.append(any_of([comparison(field, operator, item) for item in _choice_values(option, value, CDP_STATES)]))
        elif kind == "size":
            if value < 0:
                raise InvalidInputError(option, "%d is negative." % value, "Use a size in bytes, 0 or more.")
            bounds[option] = value
            terms.append(comparison(field, operator, int(value)))
        else:
            moment = time_value(option, value, now)
            bounds[option] = moment
            sent = moment
            if moment.microsecond:
                # EM's filter takes whole seconds: ask for the enclosing second, then cut exactly on the controller.
                sent = moment.replace(microsecond=0) + (datetime.timedelta(seconds=1) if operator == "<=" else datetime.timedelta(0))
                time_checks.append((TIME_RECORD_KEYS[field], operator, moment))
            terms.append(comparison(field, operator, sent))
    for low, high in (("total_size_min", "total_size_max"), ("created_after", "created_before"), ("ended_after", "ended_before")):
        if low in bounds and high in bounds and bounds[low] > bounds[high]:
            raise InvalidInputError(low, "%s is later/larger than %s." % (low, high), "Swap the two values.")
    terms.append(wrap_raw(params.get("filter")))
    result_filter = None
    if params.get("result") is not None:
        result_filter = frozenset(choice.lower() for choice in _choice_values("result", params["result"], RESULTS))
    sort_field = _sort_field(params.get("sort_by") or "CreationTimeUTC", CDP_TASK_SESSION.sortable)
    entities = common.entity_format == "Entities"
    spec = query_spec(
        CDP_TASK_SESSION.name, check_length(all_of(terms)), sort_field=sort_field, sort_desc=params.get("sort_order") == "desc",
        page_size=common.page_size, entity_format=common.entity_format, response_format=params.get("response_format") or "json",
        normalise=task_session_normaliser(params.get("include_links")) if entities else normalise_generic,
    )
    if result_filter is not None and not entities:
        raise InvalidInputError("result", "needs format: entities; references carry no result.", "Remove result or use format: entities.")
    return PreparedQuery(spec, "sessions", common.max_records, result_filter, common.projection, common.projection_text, tuple(time_checks))


def task_session_normaliser(include_links):
    """The record builder for task sessions; EM's links ride along only when asked for (they are most of a record's size)."""
    if include_links:
        return functools.partial(normalise_task_session, include_links=True)
    return normalise_task_session


def _sort_field(value, allowed):
    canonical = {field.lower(): field for field in allowed}
    key = str(value).strip().lower()
    if key == "uid":
        key = "id"
    if key not in canonical:
        raise InvalidInputError("sort_by", "%r is not a sortable field of this query type." % value, "Use one of %s." % ", ".join(allowed))
    return canonical[key]


def prepare_generic_query(params, now=None):
    """Options of query_info / the query lookup -> PreparedQuery."""
    now = now or utcnow()
    common = _common(params)
    query_type = (params.get("type") or "").strip()
    if not _TYPE_NAME.match(query_type):
        raise InvalidInputError("type", "%r is not an EM query type name." % query_type,
                                "Use a type such as CdpReplicaSession, CdpPolicy, CdpReplica, ReplicaTaskSession or BackupJobSession.")
    terms = [generic_filters(params.get("filters"), now), wrap_raw(params.get("filter"))]
    sort_by = params.get("sort_by")
    if sort_by is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", sort_by):
        raise InvalidInputError("sort_by", "%r is not a field name." % sort_by, "Use one of the type's documented fields, e.g. CreationTimeUTC.")
    is_task = query_type.lower() == CDP_TASK_SESSION.name.lower()
    spec = query_spec(
        query_type, check_length(all_of(terms)), sort_field=sort_by, sort_desc=params.get("sort_order") == "desc", page_size=common.page_size,
        entity_format=common.entity_format, response_format=params.get("response_format") or "json",
        # query_info keeps every record's links; references carry no task-session fields.
        normalise=task_session_normaliser(True) if is_task and common.entity_format == "Entities" else normalise_generic,
    )
    return PreparedQuery(spec, "records", common.max_records, None, common.projection, common.projection_text)


def run_query(client, prepared):
    """Fetch, filter client-side, cap, and project. Returns the module/lookup result dict."""
    iterator = QueryIterator(client, prepared.spec)
    records = []
    truncated = False
    result_filter = prepared.result_filter
    cap = prepared.max_records
    try:
        with gc_paused():
            for record in iterator:
                if result_filter is not None and str(record.get("result")).lower() not in result_filter:
                    continue
                if prepared.time_checks and not _within(record, prepared.time_checks):
                    continue
                if cap is not None and len(records) >= cap:
                    truncated = True
                    break
                records.append(record)
    finally:
        iterator.close()
    if iterator.passes > 1 and prepared.spec.sort_field:
        # Records from a repeat pass arrive out of order; restore the requested order.
        key = snake_case(prepared.spec.sort_field)
        key = "uid" if key == "id" else key
        records.sort(key=lambda item: _sort_key(item.get(key)), reverse=prepared.spec.sort_desc)
    result = {
        prepared.record_key: records,
        "count": len(records),
        "truncated": truncated,
        "filter": prepared.spec.filter_expression,
        "pages": client.stats["query_requests"],
        "total": iterator.total,
    }
    if prepared.projection is not None:
        projected = prepared.projection.search(records)
        result[prepared.record_key] = projected
        result["count"] = len(projected) if isinstance(projected, list) else (0 if projected is None else 1)
    return result


def _within(record, checks):
    for key, operator, moment in checks:
        value = parse_em_time(record.get(key))
        if value is None or (value < moment if operator == ">=" else value > moment):
            return False
    return True


def _sort_key(value):
    return (value is None, value if not isinstance(value, (dict, list)) else str(value))


def truncation_warning(result, cap):
    if result.get("total") is not None:
        total = "%d matching records" % result["total"]
    else:
        total = "unknown"
    return ("Stopped at max_records=%d: EM holds more matching records (total: %s). The result is truncated "
            "(truncated: true); raise max_records or narrow the filter." % (cap, total))
