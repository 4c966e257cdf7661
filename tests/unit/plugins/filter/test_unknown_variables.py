# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The unknown_variables filter, against the cdp_compliance role's own argument specs."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.veeam.enterprise_manager.plugins.filter.unknown_variables import FilterModule

unknown_variables = FilterModule().filters()["unknown_variables"]
SPECS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "cdp_compliance", "meta", "argument_specs.yml")


def role_options():
    with open(SPECS, encoding="utf-8") as handle:
        return list(yaml.safe_load(handle)["argument_specs"]["main"]["options"])


def test_the_typos_of_the_first_hour_review_are_named_with_the_nearest_known_variable():
    names = ["cdp_compliance_expected_vm", "cdp_compliance_fail_on_violations", "cdp_compliance_window_start", "veeam_em_host"]
    found = unknown_variables(names, role_options(), "cdp_compliance_")
    assert [(item["name"], item["nearest"]) for item in found] == [
        ("cdp_compliance_expected_vm", "cdp_compliance_expected_vms"),
        ("cdp_compliance_fail_on_violations", "cdp_compliance_fail_on_violation"),
    ]
    assert found[0]["message"] == "cdp_compliance_expected_vm (did you mean cdp_compliance_expected_vms?)"


def test_every_documented_option_and_the_switch_are_known():
    options = role_options()
    assert "cdp_compliance_allow_unknown_vars" in options
    assert unknown_variables(options, options, "cdp_compliance_") == []


def role_file(*parts):
    return os.path.join(os.path.dirname(SPECS), "..", *parts)


def test_every_cdp_compliance_fact_the_role_sets_is_a_known_output():
    """A new output fact must join vars/main.yml, or a second run of the role in a play would refuse it."""
    with open(role_file("vars", "main.yml"), encoding="utf-8") as handle:
        outputs = yaml.safe_load(handle)["__cdp_compliance_outputs"]
    tasks_dir = role_file("tasks")
    set_facts = set()
    for name in os.listdir(tasks_dir):
        with open(os.path.join(tasks_dir, name), encoding="utf-8") as handle:
            pending = list(yaml.safe_load(handle) or [])
        while pending:
            task = pending.pop()
            for key in ("block", "rescue", "always"):
                pending.extend(task.get(key) or [])
            set_facts.update(var for var in (task.get("ansible.builtin.set_fact") or {}) if var.startswith("cdp_compliance_"))
    assert set_facts and set_facts <= set(outputs), set_facts - set(outputs)
    assert unknown_variables(outputs, role_options() + outputs, "cdp_compliance_") == []


def test_a_name_without_a_similar_known_one_says_so():
    found = unknown_variables(["cdp_compliance_zzz"], ["cdp_compliance_window_start"], "cdp_compliance_")
    assert found == [{"name": "cdp_compliance_zzz", "nearest": None, "message": "cdp_compliance_zzz (no similar variable is known)"}]


def test_names_without_the_prefix_are_not_checked():
    assert unknown_variables(["other_var", "cdp_compliance_x"], ["cdp_compliance_x"], "cdp_compliance_") == []


@pytest.mark.parametrize("names, known", [("cdp_compliance_x", []), (["a"], "b")])
def test_bad_input_is_a_filter_error(names, known):
    with pytest.raises(AnsibleFilterError, match="list of variable names"):
        unknown_variables(names, known, "cdp_compliance_")
