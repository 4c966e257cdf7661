# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side base of the lookups: typed options through Ansible's config system, the shared client."""

from __future__ import annotations

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import CONNECTION_OPTIONS, ConnectionConfig
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import run_query, truncation_warning

display = Display()


class EmLookupBase(LookupBase):
    """Subclasses set QUERY_OPTIONS (option names besides the connection ones) and implement prepare(params)."""

    QUERY_OPTIONS = ()

    def prepare(self, params):
        raise NotImplementedError

    def _connection_variables(self, variables):
        """The veeam_em_* variables, templated: lookups receive play variables unrendered."""
        found = {}
        for option in CONNECTION_OPTIONS.values():
            name = option["var"]
            if variables and name in variables:
                found[name] = self._templar.template(variables[name])
        return found

    @property
    def _plugin_name(self):
        # ansible-core 2.19 sets _load_name to the Python module path; ansible_name is the FQCN.
        return getattr(self, "ansible_name", None) or self._load_name

    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleLookupError("%s takes no positional terms; pass everything as keyword options (for example filter='...')." % self._plugin_name)
        self.set_options(var_options=self._connection_variables(variables), direct=kwargs)
        connection = {name: self.get_option(name) for name in CONNECTION_OPTIONS}
        ca_path = connection.get("ca_path")
        if ca_path and os.path.isdir(ca_path) and os.path.samefile(ca_path, os.getcwd()):
            # The config system turns a blank path (an AWX credential without a CA) into the working directory.
            connection["ca_path"] = None
        params = {name: self.get_option(name) for name in self.QUERY_OPTIONS}
        try:
            # Validate everything before the client can send a request.
            prepared = self.prepare(params)
            config = ConnectionConfig.from_options(connection)
            with EmClient(config, warn=display.warning, log=display.vvv) as client:
                display.vvv("%s: querying %s at %s" % (self._plugin_name, prepared.spec.query_type, client.base_url))
                result = run_query(client, prepared)
        except EmError as exc:
            raise AnsibleLookupError("%s: %s" % (self._plugin_name, exc.message))
        display.vvv("%s: %d records in %d query requests" % (self._plugin_name, result["count"], result["pages"]))
        if result["truncated"]:
            display.warning(truncation_warning(result, prepared.max_records))
        records = result[prepared.record_key]
        return records if isinstance(records, list) else [records]
