# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the work is done by the action plugin of the same name (plugins/action/cdp_compliance_report.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: cdp_compliance_report
short_description: Write CDP compliance reports as JSON, HTML, JUnit XML and Markdown files on the controller
version_added: 0.1.0
description:
  - Renders a report returned by M(veeam.enterprise_manager.cdp_compliance_info) (or the
    P(veeam.enterprise_manager.cdp_compliance#filter) filter) and writes it to files in O(dest) on the Ansible controller.
  - With O(reports), combines the reports of several Enterprise Manager servers into one, where an EM that could not be audited
    is given as C({em_host, status, error}) with C(status=unreachable) and makes the combined verdict at least C(incomplete).
  - Files are written atomically (temporary file and rename), so a reader never sees half a report.
  - This is an action plugin; it never connects to the managed host and never contacts EM.
  - It is not in the C(veeam.enterprise_manager.enterprise_manager) action group, since it takes no connection options;
    C(module_defaults) for that group do not reach it.
author:
  - veeam.enterprise_manager contributors (!UNKNOWN)
options:
  report:
    description:
      - One report, per EM or already combined, as returned in RV(veeam.enterprise_manager.cdp_compliance_info#module:report).
      - A single unreachable entry C({em_host, status, error}) with C(status=unreachable) is accepted too; it is written as a report
        with that EM unreachable.
      - Exactly one of O(report), O(reports) and O(unreachable) is required.
    type: dict
  reports:
    description:
      - Per-EM reports and unreachable entries C({em_host, status, error}) with C(status=unreachable) to combine into one report.
        A failed task result (with C(failed) and C(msg)) counts as an unreachable entry.
      - Combined reports cannot be combined again.
    type: list
    elements: raw
  unreachable:
    description:
      - An EM that could not be audited, written as a report with that EM unreachable and the verdict C(incomplete).
      - The EM is named by its base URL built from O(unreachable.host) and O(unreachable.port), as in the reports of reachable EMs.
    type: dict
    suboptions:
      host:
        description: The EM host name, IP address or URL, as given to the modules' O(veeam.enterprise_manager.session#module:host) option.
        type: str
        required: true
      port:
        description: The EM REST API port; ignored when O(unreachable.host) is a URL with a port.
        type: int
        default: 9398
      error:
        description: Why the EM could not be audited.
        type: str
        required: true
  dest:
    description:
      - Directory on the controller to write the files to. Created when missing.
      - A relative path is relative to the directory C(ansible-playbook) runs in (the project directory in AWX).
    type: path
    default: ./reports
  formats:
    description:
      - The files to write. C(json) is the evidence document, C(html) a self-contained page with charts, C(junit) JUnit XML with
        one test case per VM and rule, C(markdown) a summary for tickets and e-mail, C(csv) the per-VM table for spreadsheets
        (text cells starting with C(=), C(+), C(-) or C(@) get a leading apostrophe, so a spreadsheet does not run them).
      - A SHA-256 manifest of the files written, O(basename) plus C(.sha256), is always written beside them, in the format
        C(sha256sum -c) verifies.
    type: list
    elements: str
    choices: [csv, html, json, junit, markdown]
    default: [json, html, junit, markdown, csv]
  mode:
    description:
      - Permissions of the files written, as an octal string such as V('0640') (symbolic modes are not supported).
      - When not set, files are created C(0640) narrowed by the controller's umask (C(0640) and umask C(027) give C(0640);
        umask C(077) gives C(0600)), since reports list the whole estate. When set, the files get exactly this mode.
    type: raw
  basename:
    description:
      - File name without extension. The files are O(basename) plus C(.json), C(.html), C(.junit.xml), C(.md), C(.csv) and
        C(.sha256).
      - Default C(cdp-compliance-<EM host>-<generation time>), or C(cdp-compliance-combined-<generation time>) for several EMs,
        so each audit keeps its own files. Give a fixed name to overwrite the previous audit instead.
    type: str
extends_documentation_fragment:
  - veeam.enterprise_manager.attributes
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details: Everything runs on the controller.
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  bypass_host_loop:
    description: Forces a 'global' task that does not execute per host.
    support: none
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode nothing is written; RV(files) lists the paths that would be written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: all
notes:
  - Run it once per report. In a play over several EM hosts, write the combined report with C(run_once) and O(reports) built from
    C(hostvars), as the C(veeam.enterprise_manager.cdp_compliance) role does.
  - The report format is described in the collection's C(docs/report-format.md).
seealso:
  - module: veeam.enterprise_manager.cdp_compliance_info
  - plugin: veeam.enterprise_manager.cdp_compliance
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Audit the last 24 hours
  veeam.enterprise_manager.cdp_compliance_info:
    host: em.example.com
  register: audit

- name: Write all four reports to ./reports
  veeam.enterprise_manager.cdp_compliance_report:
    report: "{{ audit.report }}"
  register: written

- name: Show where they are
  ansible.builtin.debug:
    msg: "{{ written.verdict }}: {{ written.files.html }}"

- name: JUnit only, with a fixed name for the CI job to pick up
  veeam.enterprise_manager.cdp_compliance_report:
    report: "{{ audit.report }}"
    dest: "{{ playbook_dir }}/test-results"
    formats: [junit]
    basename: cdp-compliance

- name: One report over every EM host of the play, an unreachable one included
  veeam.enterprise_manager.cdp_compliance_report:
    reports: >-
      {{ ansible_play_hosts_all | map('extract', hostvars, 'em_audit_entry') | list }}
  run_once: true
"""

RETURN = r"""
files:
  description:
    - The files written (in check mode, that would be written), format name to absolute path.
    - C(sha256) is the manifest of the other files.
  returned: always
  type: dict
  sample:
    csv: /srv/awx/projects/audit/reports/cdp-compliance-em.example.com-20261129T200000Z.csv
    sha256: /srv/awx/projects/audit/reports/cdp-compliance-em.example.com-20261129T200000Z.sha256
    json: /srv/awx/projects/audit/reports/cdp-compliance-em.example.com-20261129T200000Z.json
    html: /srv/awx/projects/audit/reports/cdp-compliance-em.example.com-20261129T200000Z.html
    junit: /srv/awx/projects/audit/reports/cdp-compliance-em.example.com-20261129T200000Z.junit.xml
    markdown: /srv/awx/projects/audit/reports/cdp-compliance-em.example.com-20261129T200000Z.md
dest:
  description: The absolute directory the files are in.
  returned: always
  type: str
basename:
  description: The file name without extension that was used.
  returned: always
  type: str
  sample: cdp-compliance-em.example.com-20261129T200000Z
verdict:
  description: The report's verdict.
  returned: always
  type: str
  sample: non_compliant
  choices: [compliant, warning, non_compliant, incomplete]
kind:
  description: C(cdp_compliance_report) for one EM, C(cdp_compliance_combined_report) for several (or for one unreachable EM).
  returned: always
  type: str
em_host:
  description: The EM the report is about; null for a combined report.
  returned: always
  type: str
summary:
  description: The report's counts (VMs by status, findings by severity, waived findings, policies and, when combined, EMs).
  returned: always
  type: dict
data:
  description: Whether the data was complete, and if not, why (C(complete), C(truncated), C(issues)).
  returned: always
  type: dict
unreachable_entry:
  description:
    - The entry that stands for the EM of O(unreachable) in O(reports) of a later combined report, and in the C(cdp_compliance_report)
      fact of the C(veeam.enterprise_manager.cdp_compliance) role.
  returned: when O(unreachable) is given
  type: dict
  sample:
    kind: cdp_compliance_unreachable
    em_host: https://em3.example.com:9398
    status: unreachable
    verdict: incomplete
    error: Name or service not known
ems:
  description: For a combined report, each EM with C(em_host), C(status) (C(ok) or C(unreachable)), C(verdict) and C(error).
  returned: when the report is combined
  type: list
  elements: dict
"""
