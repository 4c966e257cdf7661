# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side base of the lookups: typed options through Ansible's config system, the shared client opener."""

from __future__ import annotations

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import CONNECTION_OPTIONS, get_spec
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import run_query, truncation_warning
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import open_client
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.errors import lookup_errors

display = Display()


class EmLookupBase(LookupBase):
    """Subclasses set OPTION_GROUPS (options.SHARED_SPECS groups besides connection) and prepare (a query.prepare_* function)."""

    OPTION_GROUPS = ()

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
        params = {name: self.get_option(name) for name in get_spec(*self.OPTION_GROUPS)}
        with lookup_errors(self._plugin_name):
            # Validate the query before the client can send a request.
            prepared = self.prepare(params)
            with open_client(connection, warn=display.warning, log=display.vvv) as client:
                display.vvv("%s: querying %s at %s" % (self._plugin_name, prepared.spec.query_type, client.base_url))
                result = run_query(client, prepared)
        display.vvv("%s: %d records in %d query requests" % (self._plugin_name, result["count"], result["pages"]))
        if result["truncated"]:
            display.warning(truncation_warning(result, prepared.max_records))
        records = result[prepared.record_key]
        return records if isinstance(records, list) else [records]
