# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import clean_environment


@pytest.fixture(autouse=True)
def no_connection_environment(monkeypatch):
    clean_environment(monkeypatch)
