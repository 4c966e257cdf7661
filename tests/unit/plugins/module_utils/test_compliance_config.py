# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of rules, overrides, waivers, expected VMs and the window: bad input names its key."""

from __future__ import annotations

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_config import (
    ComplianceConfigError,
    matches,
    normalize_expected,
    normalize_rules,
    normalize_waivers,
    resolve_window,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError, InvalidInputError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.timeutil import format_utc

NOW = "2025-06-15T00:00:00Z"


@pytest.mark.parametrize("rules, option", [
    ({"coverage": {"max_gap": "soon"}}, "rules.coverage.max_gap"),
    ({"coverage": {"maxgap": "15m"}}, "rules.coverage.maxgap"),
    ({"coverag": {}}, "rules.coverag"),
    ({"stuck": {"enabled": "yes"}}, "rules.stuck.enabled"),
    ({"rpo": {"minor_severity": "bad"}}, "rules.rpo.minor_severity"),
    ({"overrides": {"hosts": {}}}, "rules.overrides.hosts"),
    ({"overrides": {"vms": {"vm1": {"policy_config": {"enabled": False}}}}}, "rules.overrides.vms.vm1.policy_config"),
    ({"overrides": {"vms": {"vm1": {"coverage": {"max_gap": -5}}}}}, "rules.overrides.vms.vm1.coverage.max_gap"),
])
def test_bad_rules_name_the_key(rules, option):
    with pytest.raises(ComplianceConfigError) as info:
        normalize_rules(rules)
    assert info.value.option == option
    # One line of inheritance: the collection's own error tree, not ValueError.
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, EmError)
    assert not isinstance(info.value, ValueError)
    assert option in str(info.value)


@pytest.mark.parametrize("waivers, option", [
    ([{"vm": "x", "reason": "r"}], "waivers[0].expires"),
    ([{"vm": "x", "expires": "2025-01-01"}], "waivers[0].reason"),
    ([{"reason": "r", "expires": "2025-01-01"}], "waivers[0].vm"),
    ([{"vm": "x", "reason": "r", "expires": "someday"}], "waivers[0].expires"),
    ([{"vm": "x", "reason": "r", "expires": "2025-01-01", "rules": ["nope"]}], "waivers[0].rules"),
    ([{"vm": "x", "reason": "r", "expires": "2025-01-01", "ticket": 1}], "waivers[0].ticket"),
    ("vm1", "waivers"),
])
def test_bad_waivers_name_the_key(waivers, option):
    with pytest.raises(ComplianceConfigError) as info:
        normalize_waivers(waivers)
    assert info.value.option == option


def test_bad_window_and_now():
    with pytest.raises(ComplianceConfigError):
        resolve_window(None, "yesterday")
    with pytest.raises(ComplianceConfigError):
        resolve_window({"start": "2025-06-15T00:00:00Z", "end": "2025-06-14T00:00:00Z"}, NOW)
    with pytest.raises(ComplianceConfigError):
        normalize_expected([""])


@pytest.mark.parametrize("window, start, end", [
    (None, "2025-06-14T00:00:00Z", "2025-06-15T00:00:00Z"),
    ("-2h", "2025-06-14T22:00:00Z", "2025-06-15T00:00:00Z"),
    ("6h", "2025-06-14T18:00:00Z", "2025-06-15T00:00:00Z"),
    (3600, "2025-06-14T23:00:00Z", "2025-06-15T00:00:00Z"),
    (["2025-06-10", "2025-06-11T12:00:00+02:00"], "2025-06-10T00:00:00Z", "2025-06-11T10:00:00Z"),
    ({"start": "-7d", "end": "-1d"}, "2025-06-08T00:00:00Z", "2025-06-14T00:00:00Z"),
])
def test_window_forms(window, start, end):
    _now, first, last = resolve_window(window, NOW)
    assert (format_utc(first), format_utc(last)) == (start, end)


def test_overrides_are_ordered_least_specific_first():
    overrides = normalize_rules({"overrides": {"vms": {"vm1": {"coverage": False}, "vm*": {"stuck": False}, "v*": {"rpo": False}}}})["overrides"]
    assert [pattern for pattern, _settings in overrides["vms"]] == ["v*", "vm*", "vm1"]
    assert overrides["vms"][2][1] == {"coverage": {"enabled": False}}


def test_waiver_dates_and_expected_names():
    waiver = normalize_waivers([{"vm": "web*", "reason": " r ", "expires": "2025-06-15", "rules": ["rpo", "coverage", "rpo"]}])[0]
    assert (waiver["reason"], waiver["expires"], waiver["rules"]) == ("r", "2025-06-15", ["coverage", "rpo"])
    assert format_utc(resolve_window(None, "2025-06-16T00:00:00Z")[0]) == "2025-06-16T00:00:00Z"
    assert normalize_expected("vm1") == ["vm1"] and normalize_expected(["a", "a", "b"]) == ["a", "b"]
    assert matches("WEB-*", "web-01") and matches("Web-01", "web-01") and not matches("web-0?", None)
