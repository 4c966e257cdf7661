# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write CDP compliance reports to files on the controller (documentation: plugins/modules/cdp_compliance_report.py)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import (
    COMBINED_KIND,
    REPORT_KIND,
    combine_reports,
    plain,
)
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import EmError
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import CONNECTION_OPTIONS
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.reports import FORMATS, write_reports

DEFAULT_FORMATS = ["json", "html", "junit", "markdown"]
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)

ARGUMENT_SPEC = {
    "report": {"type": "dict"},
    "reports": {"type": "list", "elements": "raw"},
    "dest": {"type": "path", "default": "./reports"},
    "formats": {"type": "list", "elements": "str", "choices": sorted(FORMATS), "default": DEFAULT_FORMATS},
    "basename": {"type": "str"},
}
# The action group's module_defaults inject the connection options: accepted, never used.
ARGUMENT_SPEC.update({name: {"type": "raw", "no_log": option["no_log"]} for name, option in CONNECTION_OPTIONS.items()})


def _host_label(em_host):
    text = _SCHEME.sub("", to_text(em_host or "")).rstrip("/")
    return text[:-len(":9398")] if text.endswith(":9398") else text


def default_basename(report):
    """cdp-compliance-<EM host>-<UTC stamp>, or cdp-compliance-combined-<stamp>; safe as a file name."""
    ems = report.get("ems") or []
    if report.get("kind") == COMBINED_KIND and len(ems) != 1:
        label = "combined"
    else:
        label = _host_label(report.get("em_host") or (ems[0].get("em_host") if ems else None)) or "em"
    stamp = re.sub(r"[^0-9TZ]", "", to_text(report.get("generated_at") or "").split(".")[0].rstrip("Z")) + "Z"
    name = _FILE_UNSAFE.sub("_", "cdp-compliance-%s-%s" % (label, stamp)).strip("._-")
    return name or "cdp-compliance"


def _is_unreachable_entry(item):
    return isinstance(item, Mapping) and "vms" not in item and (item.get("status") == "unreachable" or item.get("failed") or "error" in item)


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
            mutually_exclusive=[["report", "reports"]],
            required_one_of=[["report", "reports"]],
        )
        del validation
        report = self._build_report(new_args)
        basename = new_args["basename"] or default_basename(report)
        if os.path.basename(basename) != basename or basename in (".", ".."):
            raise AnsibleActionFail("basename must be a file name without directories, got %r." % basename)
        dest = os.path.abspath(os.path.expanduser(new_args["dest"]))
        formats = list(dict.fromkeys(new_args["formats"]))
        if not formats:
            raise AnsibleActionFail("formats must name at least one of: %s." % ", ".join(DEFAULT_FORMATS))

        if self._task.check_mode:
            files = {fmt: os.path.join(dest, basename + FORMATS[fmt]) for fmt in formats}
        else:
            try:
                files = write_reports(report, dest, formats=formats, basename=basename)
            except (OSError, ValueError) as exc:
                raise AnsibleActionFail("Cannot write the reports to %s: %s" % (dest, to_text(exc))) from exc

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
            if _is_unreachable_entry(report):
                # A single EM that could not be audited still gets its own report.
                return combine_reports([report])
        except EmError as exc:
            raise AnsibleActionFail(to_text(exc.message)) from exc
        raise AnsibleActionFail("report is not a CDP compliance report (kind %r); pass the report returned by "
                                "veeam.enterprise_manager.cdp_compliance_info, or use reports for several." % (report.get("kind"),))
