# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side translation of the collection's EmError tree: lookups and inventories raise, actions return a failed result."""

from __future__ import annotations

import contextlib

from ansible.errors import AnsibleLookupError, AnsibleParserError

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError


@contextlib.contextmanager
def lookup_errors(plugin_name):
    """Turn an EmError raised in the block into an AnsibleLookupError that names the plugin and keeps EmError's message."""
    try:
        yield
    except EmError as exc:
        raise AnsibleLookupError("%s: %s" % (plugin_name, exc.message))


@contextlib.contextmanager
def inventory_errors(plugin_name):
    """Turn an EmError raised in the block into the AnsibleParserError an inventory plugin raises, naming the plugin."""
    try:
        yield
    except EmError as exc:
        raise AnsibleParserError("%s: %s" % (plugin_name, exc.message))


def failed_result(exc):
    """An action's result for an EmError: the message plus its structured details, as a module's fail_json gives them."""
    return dict(failed=True, **exc.to_result())
