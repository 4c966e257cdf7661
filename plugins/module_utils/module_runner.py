# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared body of every module's main(): build the client, run, translate errors.

It receives an already constructed AnsibleModule, so this file never imports AnsibleModule.
"""

from __future__ import annotations

import platform
import sys
import traceback

from .client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, EmClient
from .decode import DEFUSEDXML_IMPORT_ERROR, HAS_DEFUSEDXML
from .errors import EmError
from .options import ConnectionConfig, connection_argument_spec
from .query import HAS_JMESPATH, JMESPATH_IMPORT_ERROR, QUERY_ARGUMENT_SPEC, run_query, truncation_warning


def check_libraries(module):
    for present, name, error in ((HAS_REQUESTS, "requests", REQUESTS_IMPORT_ERROR), (HAS_DEFUSEDXML, "defusedxml", DEFUSEDXML_IMPORT_ERROR),
                                 (HAS_JMESPATH, "jmespath", JMESPATH_IMPORT_ERROR)):
        if not present:
            module.fail_json(msg="Failed to import the required Python library (%s) on %s's Python %s. Install it (pip install %s) "
                                 "or set ansible_python_interpreter to a Python that has it." % (name, platform.node(), sys.executable, name),
                             exception="".join(traceback.format_exception_only(type(error), error)))


def execute(module, run, require_credentials=True):
    """Validate the connection options, run ``run(module, client)`` inside a client context, exit."""
    check_libraries(module)
    try:
        config = ConnectionConfig.from_options(module.params, require_credentials=require_credentials)
        with EmClient(config, warn=module.warn, log=module.debug, register_secret=module.no_log_values.add) as client:
            result = run(module, client)
    except EmError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)


def run_info_query(module, client, prepare):
    """The run() of the query info modules: validate, query, warn when truncated."""
    prepared = prepare(module.params)
    result = run_query(client, prepared)
    if result["truncated"]:
        module.warn(truncation_warning(result, prepared.max_records))
    return dict(changed=False, **result)


def info_argument_spec(extra):
    """The query info modules' argument spec: connection options, query options, then the module's own."""
    spec = dict(connection_argument_spec(), **QUERY_ARGUMENT_SPEC)
    spec.update(extra)
    return spec
