# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cdp_policy_remediation_plan filter: the plan, and errors as AnsibleFilterError."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.veeam.enterprise_manager.plugins.filter.cdp_policy import FilterModule
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_cdp_remediation import REPORT, names


def test_filter_wraps_errors():
    plan_filter = FilterModule().filters()["cdp_policy_remediation_plan"]
    assert names(plan_filter(REPORT, {"max_rpo": 300}, backup_server_name="srv1")) == ["off", "loose", "empty"]
    with pytest.raises(AnsibleFilterError, match="max_rpo"):
        plan_filter(REPORT, {"max_rpo": "never"})
    with pytest.raises(AnsibleFilterError, match="report"):
        plan_filter(["not", "a", "report"])
