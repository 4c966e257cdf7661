# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter builder: quoting, grouping, times, generic filters, option validation, hostile values.

Expressions are checked against the simulator's own (strict, independent) filter parser, so a
value that changed the expression's structure would show up as a different AST.
"""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import filters
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, prepare_generic_query
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.filters import And, Comparison, Or, parse_filter

UTC = datetime.timezone.utc
NOW = datetime.datetime(2025, 6, 20, 12, 0, 0, 123456, tzinfo=UTC)


def cdp_filter(**params):
    return prepare_cdp_query(params, now=NOW).spec.filter_expression


def generic_filter(filters_dict=None, **params):
    params.setdefault("type", "CdpReplicaSession")
    params["filters"] = filters_dict
    return prepare_generic_query(params, now=NOW).spec.filter_expression


def cmp(field, op, value):
    return Comparison(field, op, value, True)


# -- quoting and grouping -----------------------------------------------------------------------


def test_quote_doubles_embedded_quotes():
    assert filters.quote('say "hi"') == '"say ""hi"""'
    assert filters.comparison("VmDisplayName", "==", 'a"b') == 'VmDisplayName=="a""b"'


def test_literals_by_type():
    assert filters.literal(True) == "true"
    assert filters.literal(False) == "false"
    assert filters.literal(42) == "42"
    assert filters.literal(1.5) == "1.5"
    assert filters.literal("42") == '"42"'
    assert filters.literal(datetime.datetime(2021, 6, 15, 7, 0, 6, 787000, tzinfo=UTC)) == '"2021-06-15T07:00:06Z"'


def test_or_groups_are_parenthesised_and_anded():
    expression = cdp_filter(vm_display_name=["db01", "web01"], state=["inprogress", "PENDING"])
    assert expression == '(VmDisplayName=="db01",VmDisplayName=="web01");(State=="InProgress",State=="Pending")'
    assert parse_filter(expression) == And((Or((cmp("VmDisplayName", "==", "db01"), cmp("VmDisplayName", "==", "web01"))),
                                            Or((cmp("State", "==", "InProgress"), cmp("State", "==", "Pending")))))


def test_single_value_is_not_parenthesised():
    assert cdp_filter(vm_display_name="db01") == 'VmDisplayName=="db01"'
    assert filters.any_of(["A==1"]) == "A==1"
    assert filters.any_of([]) == ""


def _top_level_separators(expression):
    """Separators found outside quotes, per parenthesis depth."""
    seen = {}
    depth = 0
    in_quotes = False
    for char in expression:
        if char == '"':
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            seen.pop(depth, None)
            depth -= 1
        elif char in ";,":
            seen.setdefault(depth, set()).add(char)
            if len(seen[depth]) > 1:
                return False
    return True


def test_semicolon_and_comma_never_mixed_at_one_level():
    expression = cdp_filter(vm_display_name=["a", "b"], backup_server_name=["s1", "s2"], reason="x,y;z",
                            created_after="-7d", filter='State=="Completed",TotalSize>5')
    assert _top_level_separators(expression)
    parse_filter(expression)  # the simulator rejects mixed separators without parentheses


def test_mixed_separators_detector_can_fail():
    assert not _top_level_separators('A==1;B==2,C==3')


# -- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("2021-06-15", "2021-06-15T00:00:00Z"),
    ("2021-06-15T07:00:06.787Z", "2021-06-15T07:00:06Z"),
    ("2021-06-15 07:00:06", "2021-06-15T07:00:06Z"),
    ("now", "2025-06-20T12:00:00Z"),
    ("-30m", "2025-06-20T11:30:00Z"),
    ("-24h", "2025-06-19T12:00:00Z"),
    ("-7d", "2025-06-13T12:00:00Z"),
    ("+1h", "2025-06-20T13:00:00Z"),
    ("2026-11-01T00:00:00+01:00", "2026-10-31T23:00:00Z"),
    ("2026-11-01T00:00:00-05:30", "2026-11-01T05:30:00Z"),
    ("2026-11-01T00:00:00+0200", "2026-10-31T22:00:00Z"),
])
def test_time_values_become_utc_seconds(value, expected):
    assert cdp_filter(created_after=value) == 'CreationTimeUTC>="%s"' % expected


def test_time_options_map_to_fields_and_operators():
    expression = cdp_filter(created_after="2021-06-15", created_before="2021-06-16", ended_after="-24h", ended_before="now")
    assert parse_filter(expression) == And((
        cmp("CreationTimeUTC", ">=", "2021-06-15T00:00:00Z"), cmp("CreationTimeUTC", "<=", "2021-06-16T00:00:00Z"),
        cmp("EndTimeUTC", ">=", "2025-06-19T12:00:00Z"), cmp("EndTimeUTC", "<=", "2025-06-20T12:00:01Z")))


def test_sub_second_bounds_are_widened_to_whole_seconds_and_cut_exactly_on_the_controller():
    """EM takes whole seconds: the server-side bound encloses the exact one; run_query then applies the exact one."""
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import _within, prepare_cdp_query
    prepared = prepare_cdp_query({"created_after": "2025-06-20T10:00:00.500Z", "created_before": "2025-06-20T11:00:00.250Z"}, now=NOW)
    assert prepared.spec.filter_expression == 'CreationTimeUTC>="2025-06-20T10:00:00Z";CreationTimeUTC<="2025-06-20T11:00:01Z"'
    assert not _within({"creation_time_utc": "2025-06-20T10:00:00.499Z"}, prepared.time_checks)
    assert _within({"creation_time_utc": "2025-06-20T10:00:00.500Z"}, prepared.time_checks)
    assert _within({"creation_time_utc": "2025-06-20T11:00:00.250Z"}, prepared.time_checks)
    assert not _within({"creation_time_utc": "2025-06-20T11:00:00.251Z"}, prepared.time_checks)
    whole = prepare_cdp_query({"created_after": "2025-06-20T10:00:00Z"}, now=NOW)
    assert whole.time_checks == ()


def test_seed_example_filter():
    expression = cdp_filter(created_after="2021-06-15", created_before="2021-06-16", vm_display_name="virt03-ubuntu01")
    assert expression == ('VmDisplayName=="virt03-ubuntu01";CreationTimeUTC>="2021-06-15T00:00:00Z";'
                          'CreationTimeUTC<="2021-06-16T00:00:00Z"')


def test_sizes_are_unquoted_integers():
    expression = cdp_filter(total_size_min=0, total_size_max=17179869184)
    assert expression == "TotalSize>=0;TotalSize<=17179869184"
    assert parse_filter(expression) == And((Comparison("TotalSize", ">=", "0", False), Comparison("TotalSize", "<=", "17179869184", False)))


# -- generic filters dict ----------------------------------------------------------------------


def test_generic_value_list_and_operator_dict():
    expression = generic_filter({"Name": "CDP Policy@2021", "State": ["Working", "Stopped"],
                                 "CreationTimeUTC": {">=": "-24h", "lt": "2025-06-20T14:00:00+02:00"}})
    assert parse_filter(expression) == And((
        cmp("Name", "==", "CDP Policy@2021"),
        Or((cmp("State", "==", "Working"), cmp("State", "==", "Stopped"))),
        cmp("CreationTimeUTC", ">=", "2025-06-19T12:00:00Z"),
        cmp("CreationTimeUTC", "<", "2025-06-20T12:00:00Z")))


@pytest.mark.parametrize("alias, operator", [
    ("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("=", "=="), ("GE", ">="),
    ("==", "=="), ("!=", "!="), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">="),
])
def test_generic_operator_aliases(alias, operator):
    assert generic_filter({"TotalSize": {alias: 5}}) == "TotalSize%s5" % operator


def test_generic_typed_values():
    assert generic_filter({"IsRetry": True, "Progress": 50}) == "IsRetry==true;Progress==50"


def test_generic_and_raw_filter_combined():
    expression = generic_filter({"Result": "Failed"}, filter='State=="Stopped",State=="Working"')
    assert expression == 'Result=="Failed";(State=="Stopped",State=="Working")'


def test_raw_filter_is_wrapped():
    expression = cdp_filter(vm_display_name="x", filter='TotalSize>=1073741824,Reason=="Low disk space"')
    assert expression == 'VmDisplayName=="x";(TotalSize>=1073741824,Reason=="Low disk space")'
    assert parse_filter(expression) == And((cmp("VmDisplayName", "==", "x"), Or((
        Comparison("TotalSize", ">=", "1073741824", False), cmp("Reason", "==", "Low disk space")))))


def test_raw_filter_with_parenthesis_inside_quotes_is_balanced():
    assert cdp_filter(filter='Name==")(" ') == '(Name==")(")'


# -- bad input -----------------------------------------------------------------------------------


def _invalid(option, func, *args, **kwargs):
    with pytest.raises(InvalidInputError) as info:
        func(*args, **kwargs)
    assert info.value.option == option
    assert "'%s'" % option in str(info.value)
    assert info.value.to_result()["option"] == option
    return info.value


@pytest.mark.parametrize("params, option", [
    ({"state": "Running"}, "state"),
    ({"state": ["Completed", "Done"]}, "state"),
    ({"result": "Great"}, "result"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"created_before": "2021-13-45"}, "created_before"),
    ({"ended_after": "15/06/2021"}, "ended_after"),
    ({"ended_before": 12}, "ended_before"),
    ({"page_size": 0}, "page_size"),
    ({"page_size": 1001}, "page_size"),
    ({"max_records": 0}, "max_records"),
    ({"total_size_min": 10, "total_size_max": 9}, "total_size_min"),
    ({"total_size_min": -1}, "total_size_min"),
    ({"created_after": "-1h", "created_before": "-2h"}, "created_after"),
    ({"ended_after": "2021-06-16", "ended_before": "2021-06-15"}, "ended_after"),
    ({"vm_display_name": []}, "vm_display_name"),
    ({"backup_server_name": [None]}, "backup_server_name"),
    ({"name": {"a": 1}}, "name"),
    ({"filter": "(State==Completed"}, "filter"),
    ({"filter": "State==Completed)"}, "filter"),
    ({"filter": 'Name=="open'}, "filter"),
    ({"sort_by": "Result"}, "sort_by"),
    ({"format": "references", "result": "Failed"}, "result"),
])
def test_cdp_bad_input_names_the_option(params, option):
    _invalid(option, prepare_cdp_query, params, now=NOW)


def test_page_size_bounds_are_inclusive():
    assert prepare_cdp_query({"page_size": 1}, now=NOW).spec.page_size == 1
    assert prepare_cdp_query({"page_size": 1000}, now=NOW).spec.page_size == 1000


def test_bad_jmespath_carries_jmespaths_message():
    import jmespath
    import jmespath.exceptions
    with pytest.raises(jmespath.exceptions.JMESPathError) as original:
        jmespath.compile("[?result==")
    error = _invalid("jmespath", prepare_cdp_query, {"jmespath": "[?result=="}, now=NOW)
    assert str(original.value) in error.message


@pytest.mark.parametrize("filters_dict", [
    {"State": []},
    {"State": {}},
    {"State": None},
    {"State": [["nested"]]},
    {"bad field": "x"},
    {"State": {"~=": "x"}},
    ["State"],
])
def test_generic_bad_filters(filters_dict):
    _invalid("filters", generic_filter, filters_dict)


def test_generic_bad_time_in_filters():
    _invalid("filters", generic_filter, {"CreationTimeUTC": {">=": "last tuesday"}})


@pytest.mark.parametrize("query_type", ["", "Cdp Policy", "1abc", "Cdp;Policy"])
def test_generic_bad_type(query_type):
    _invalid("type", prepare_generic_query, {"type": query_type}, now=NOW)


def test_filter_length_limit():
    _invalid("filter", prepare_cdp_query, {"vm_display_name": ["v%05d" % index for index in range(1000)]}, now=NOW)


# -- hostile values ------------------------------------------------------------------------------

HOSTILE = [
    '"',
    '""',
    'a";VmDisplayName=="b',
    'x"),(VmDisplayName!="',
    "web01;State==Completed",
    "a,b",
    "(a)",
    ")",
    "((",
    "a==b",
    "!=",
    "<=>",
    "\\",
    "'",
    " padded ",
    "",
    "tab\there\nnewline",
    "\u65e5\u672c\u8a9e \u00fcn\u00efc\u00f6d\u00e9 \U0001f600",
    "x" * 5000,
    '"' * 101,
    "%22%3B%2C+&=?#",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_value_keeps_its_meaning(value):
    expression = cdp_filter(vm_display_name=value, state="Completed")
    assert parse_filter(expression) == And((cmp("VmDisplayName", "==", value), cmp("State", "==", "Completed")))


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_in_or_group_keep_their_meaning(value):
    expression = cdp_filter(backup_server_name=[value, "srv2"], reason=value, created_after="-1d")
    assert parse_filter(expression) == And((
        Or((cmp("BackupServerName", "==", value), cmp("BackupServerName", "==", "srv2"))),
        cmp("Reason", "==", value),
        cmp("CreationTimeUTC", ">=", "2025-06-19T12:00:00Z")))


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_value_in_generic_filters(value):
    expression = generic_filter({"Name": [value, value + "2"], "FailureMessage": {"ne": value}})
    assert parse_filter(expression) == And((
        Or((cmp("Name", "==", value), cmp("Name", "==", value + "2"))),
        cmp("FailureMessage", "!=", value)))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_round_trips_through_the_simulators_parser(value):
    assert parse_filter(cdp_filter(vm_display_name=value)) == cmp("VmDisplayName", "==", value)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(), min_size=2, max_size=5), st.text())
def test_any_text_lists_round_trip(values, reason):
    expression = cdp_filter(vm_display_name=values, reason=reason)
    expected_or = Or(tuple(cmp("VmDisplayName", "==", value) for value in values))
    assert parse_filter(expression) == And((expected_or, cmp("Reason", "==", reason)))
