# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""em_types: the one table of EM query types, and the QuerySpecs built from it."""

from __future__ import annotations

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.em_types import EM_TYPES, em_type, query_spec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.paging import DEFAULT_PAGE_SIZE, QuerySpec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_generic_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import normalise_generic, normalise_task_session


@pytest.mark.parametrize("name, plural, pin_field, normalise", [
    ("CdpReplicaTaskSession", "CdpReplicaTaskSessions", "CreationTimeUTC", normalise_task_session),
    ("CdpReplicaSession", "CdpReplicaSessions", "CreationTimeUTC", normalise_generic),
    ("cdppolicy", "CdpPolicies", None, normalise_generic),
    ("BackupJobSession", "BackupJobSessions", None, normalise_generic),
])
def test_query_spec_takes_what_the_type_implies(name, plural, pin_field, normalise):
    spec = query_spec(name, 'Name=="x"', page_size=10)
    assert spec == QuerySpec(name, 'Name=="x"', page_size=10, normalise=normalise, plural=plural, pin_field=pin_field)
    assert em_type(name).plural == plural


def test_options_override_the_table():
    spec = query_spec("CdpReplicaTaskSession", normalise=None, sort_field="EndTimeUTC", sort_desc=True)
    assert (spec.normalise, spec.sort_field, spec.sort_desc, spec.page_size, spec.filter_expression) == (None, "EndTimeUTC", True, DEFAULT_PAGE_SIZE, "")


def test_the_table_is_keyed_by_lower_case_name_and_only_task_sessions_list_sortable_fields():
    assert all(key == entry.name.lower() for key, entry in EM_TYPES.items())
    assert "CreationTimeUTC" in EM_TYPES["cdpreplicatasksession"].sortable and "Result" not in EM_TYPES["cdpreplicatasksession"].sortable
    assert EM_TYPES["cdppolicy"].sortable == ()


@pytest.mark.parametrize("name", ["CdpPolicy", "CdpReplicaSession", "CdpReplicaTaskSession"])
def test_the_generic_query_uses_the_table(name):
    spec = prepare_generic_query({"type": name}).spec
    entry = em_type(name)
    assert (spec.plural, spec.pin_field) == (entry.plural, entry.pin_field)
