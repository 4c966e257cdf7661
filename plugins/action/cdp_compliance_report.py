# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write CDP compliance reports to files on the controller (documentation: plugins/modules/cdp_compliance_report.py)."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import build_base_url
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import (
    COMBINED_KIND,
    REPORT_KIND,
    combine_reports,
    is_unreachable_entry,
    plain,
    unreachable_entry,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import DEFAULT_PORT
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_files import (
    DEFAULT_FORMATS,
    FORMATS,
    check_basename,
    default_basename,
    manifest_path,
    parse_mode,
    report_paths,
    write_reports,
)

ARGUMENT_SPEC = {
    "report": {"type": "dict"},
    "reports": {"type": "list", "elements": "raw"},
    "unreachable": {"type": "dict", "options": {
        "host": {"type": "str", "required": True},
        "port": {"type": "int"},
        "error": {"type": "str", "required": True},
    }},
    "dest": {"type": "path", "default": "./reports"},
    "formats": {"type": "list", "elements": "str", "choices": sorted(FORMATS), "default": DEFAULT_FORMATS},
    "basename": {"type": "str"},
    "mode": {"type": "raw"},
}


class ActionModule(ActionBase):
    """Render a report (or combine several) and write the files where the controller runs."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        try:
            result.update(self._write())
        except AnsibleActionFail as exc:
            # Returned rather than raised, so that failed_when and rescue see a normal failed result.
            result.update(failed=True, msg=to_text(exc.message))
        return result

    def _write(self):
        validation, new_args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[["report", "reports", "unreachable"]],
            required_one_of=[["report", "reports", "unreachable"]],
        )
        del validation
        entry = _unreachable(new_args["unreachable"]) if new_args["unreachable"] else None
        report = combine_reports([entry]) if entry else self._build_report(new_args)
        basename = new_args["basename"] or default_basename(report)
        try:
            check_basename(basename)
        except ValueError as exc:
            raise AnsibleActionFail(to_text(exc)) from None
        dest = os.path.abspath(os.path.expanduser(new_args["dest"]))
        formats = list(dict.fromkeys(new_args["formats"]))
        if not formats:
            raise AnsibleActionFail("formats must name at least one of: %s." % ", ".join(DEFAULT_FORMATS))
        try:
            mode = parse_mode(new_args["mode"])
        except ValueError as exc:
            raise AnsibleActionFail("Option mode: %s" % to_text(exc)) from None

        if self._task.check_mode:
            files = dict(report_paths(dest, basename, formats), sha256=manifest_path(dest, basename))
        else:
            try:
                files = write_reports(report, dest, formats=formats, basename=basename, mode=mode)
            except (OSError, ValueError) as exc:
                raise AnsibleActionFail("Cannot write the reports to %s: %s" % (dest, to_text(exc))) from exc
        result = _result(report, files, dest, basename)
        if entry:
            result["unreachable_entry"] = entry
        return result

    @staticmethod
    def _build_report(args):
        try:
            if args["reports"] is not None:
                if not args["reports"]:
                    raise AnsibleActionFail("reports is empty: give at least one per-EM report or unreachable entry.")
                return combine_reports(plain(args["reports"]))
            report = plain(args["report"])
            if report.get("kind") in (REPORT_KIND, COMBINED_KIND):
                return report
            if is_unreachable_entry(report):
                # A single EM that could not be audited still gets its own report.
                return combine_reports([report])
        except EmError as exc:
            raise AnsibleActionFail(to_text(exc.message)) from exc
        raise AnsibleActionFail("report is not a CDP compliance report (kind %r); pass the report returned by "
                                "veeam.enterprise_manager.cdp_compliance_info, or use reports for several." % (report.get("kind"),))


def _unreachable(options):
    """The unreachable entry of an EM, labelled with its base URL like the reports of reachable EMs."""
    try:
        label = build_base_url(options["host"], options["port"] or DEFAULT_PORT)[0]
    except ValueError:
        label = options["host"]  # the host itself may be what made the audit fail: show it as given
    return unreachable_entry(label, options["error"])


def _result(report, files, dest, basename):
    result = {
        "changed": True,
        "files": files,
        "dest": dest,
        "basename": basename,
        "verdict": report.get("verdict"),
        "kind": report.get("kind"),
        "em_host": report.get("em_host"),
        "summary": report.get("summary"),
        "data": report.get("data"),
    }
    if report.get("kind") == COMBINED_KIND:
        result["ems"] = [{key: em.get(key) for key in ("em_host", "status", "verdict", "error")} for em in report.get("ems") or ()]
    return result
