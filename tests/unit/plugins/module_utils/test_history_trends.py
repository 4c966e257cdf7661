# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trends over stored audits: 90 days of daily audits, overlapping windows, filters, bad input."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import audit_scope, read_trends, record_audit
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history_store import HistoryStore, scope_key
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.timeutil import format_utc, parse_iso
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.history_reports import EM, SCOPE, day, finding, report

DAY = 86400.0
POLICY = "urn:veeam:CdpPolicy:1"


def by_name(trend):
    return {entry.get("vm") or entry.get("policy"): entry for entry in trend["vms"] + trend["policies"]}


@pytest.fixture(scope="module")
def hundred_days(tmp_path_factory):
    """100 daily audits (day 0 to 99) of 24 h windows; the last 90 days end at day 99."""
    path = str(tmp_path_factory.mktemp("trend") / "history.db")
    with HistoryStore(path) as store:
        for index in range(100):
            vms = {"db-01": [], "db-02": [finding("coverage", "gap")] if 40 <= index < 50 or 70 <= index < 73 else []}
            if index >= 50:
                vms["db-03"] = [finding("freshness", "stale")] if index >= 95 else [finding("rpo", "rpo_breach", "warning")] if index == 60 else []
            policy = {POLICY: ("cdp-gold", [finding("policy_config", "disabled")] if index < 45 else [])}
            store.append_audit(report(day(index), vms, policy), SCOPE)
    return path


def test_ninety_day_trend_from_stored_audits(hundred_days):
    result = read_trends(hundred_days, days=90, now=day(99))
    trend = result["trends"]
    # Audits evaluated from day 9 (inclusive) to day 99: 91; the day-9 window lies before the period and counts no time.
    assert (trend["since"], trend["until"], trend["audits"], trend["days"]) == (day(9), day(99), 91, 90)
    assert [audit["audited_at"] for audit in result["audits"]] == [day(index) for index in range(9, 100)]
    entries = by_name(trend)

    steady = entries["db-01"]
    assert steady["audits"] == 91 and steady["by_status"] == {"compliant": 91, "warning": 0, "non_compliant": 0}
    assert steady["compliant_percent"] == 100.0 and steady["audited_seconds"] == 90 * DAY and steady["compliant_time_percent"] == 100.0
    assert steady["longest_non_compliant_streak"] is None
    assert steady["current"] == {"status": "compliant", "since": day(9), "previous_status": None, "previous_audit_at": None}

    flaky = entries["db-02"]
    assert flaky["by_status"] == {"compliant": 78, "warning": 0, "non_compliant": 13}
    assert flaky["compliant_percent"] == round(100.0 * 78 / 91, 2)
    assert flaky["compliant_seconds"] == 77 * DAY and flaky["compliant_time_percent"] == round(100.0 * 77 / 90, 2)
    assert flaky["longest_non_compliant_streak"] == {"audits": 10, "seconds": 10 * DAY, "start": day(40), "end": day(50), "ongoing": False}
    assert flaky["current"] == {"status": "compliant", "since": day(73), "previous_status": "non_compliant", "previous_audit_at": day(72)}

    late = entries["db-03"]
    assert late["audits"] == 50 and late["first_audit"] == day(50) and late["by_status"] == {"compliant": 44, "warning": 1, "non_compliant": 5}
    assert late["audited_seconds"] == 50 * DAY
    assert late["longest_non_compliant_streak"] == {"audits": 5, "seconds": 4 * DAY, "start": day(95), "end": day(99), "ongoing": True}
    assert late["current"]["since"] == day(95) and late["current"]["previous_status"] == "compliant"

    policy = entries["cdp-gold"]
    assert policy["policy_uid"] == POLICY and policy["by_status"] == {"compliant": 55, "warning": 0, "non_compliant": 36}
    assert policy["current"]["since"] == day(45)


def test_shorter_period_and_filters(hundred_days):
    trend = read_trends(hundred_days, days=7, now=day(99), vms=["db-0[23]"], policies=["nothing*"])["trends"]
    assert trend["audits"] == 8 and [entry["vm"] for entry in trend["vms"]] == ["db-02", "db-03"] and trend["policies"] == []
    assert read_trends(hundred_days, days=7, now=day(99), em_hosts=["https://other:9398"])["trends"]["audits"] == 0
    assert read_trends(hundred_days, days=7, now=day(99), scope=scope_key(SCOPE))["trends"]["audits"] == 8
    assert read_trends(hundred_days, days=7, now=day(99), scope="0" * 64)["trends"]["vms"] == []


def test_overlapping_windows_count_each_instant_once(tmp_path):
    path = str(tmp_path / "h.db")
    start = parse_iso("2026-09-01T00:00:00Z")
    scope = audit_scope([EM], {})
    for hour in range(72):
        now = format_utc(start + datetime.timedelta(hours=hour))
        record_audit(path, report(now, {"vm-a": [finding("coverage", "gap")] if hour == 71 else []}), scope, trend_days=0)
    trend = by_name(read_trends(path, days=30, now="2026-09-03T23:00:00Z")["trends"])["vm-a"]
    # 24 h windows every hour from 2026-08-31T00 to 2026-09-03T23: 95 h of audited time, not 72 x 24 h.
    assert trend["audits"] == 72 and trend["audited_seconds"] == 95 * 3600.0
    # The last audit's window belongs to it (the latest evidence), so its 24 h are not compliant.
    assert trend["compliant_seconds"] == 71 * 3600.0
    assert trend["compliant_percent"] == round(100.0 * 71 / 72, 2)


def test_report_trends_cover_the_audit_itself(tmp_path):
    path = str(tmp_path / "h.db")
    record_audit(path, report(day(0), {"db-01": [finding("coverage", "gap")]}), SCOPE)
    result = record_audit(path, report(day(1), {"db-01": []}), SCOPE, trend_days=30)
    assert result["trends"]["audits"] == 2 and result["trends"]["until"] == day(1) and result["trends"]["scope_key"] == scope_key(SCOPE)
    assert result["trends"]["vms"][0]["current"] == {"status": "compliant", "since": day(1), "previous_status": "non_compliant",
                                                     "previous_audit_at": day(0)}
    assert record_audit(path, report(day(2), {"db-01": []}), SCOPE, trend_days=0)["trends"] is None


@pytest.mark.parametrize("days, now, option", [(0, None, "days"), (-3, None, "days"), (True, None, "days"), (90, "yesterday", "now")])
def test_bad_trend_input_names_the_option(tmp_path, days, now, option):
    with pytest.raises(InvalidInputError) as info:
        read_trends(str(tmp_path / "h.db"), days=days, now=now)
    assert info.value.option == option


def test_time_between_audits_is_not_audited(tmp_path):
    path = str(tmp_path / "h.db")
    scope = audit_scope([EM], {})
    record_audit(path, report(day(0), {"vm-a": []}), scope, trend_days=0)
    record_audit(path, report(day(5), {"vm-a": [finding("coverage", "gap")]}, window_hours=48), scope, trend_days=0)
    record_audit(path, report(day(6), {"vm-a": []}, window_hours=36), scope, trend_days=0)
    trend = by_name(read_trends(path, days=30, now=day(6))["trends"])["vm-a"]
    # Windows: day -1..0, day 3..5 and day 4.5..6; days 0 to 3 were never audited. Day 4.5..5 belongs to the day-6 audit.
    assert trend["audited_seconds"] == (1 + 2 + 1.5) * DAY - 0.5 * DAY
    assert trend["compliant_seconds"] == 1 * DAY + 1.5 * DAY
    assert trend["longest_non_compliant_streak"] == {"audits": 1, "seconds": DAY, "start": day(5), "end": day(6), "ongoing": False}
