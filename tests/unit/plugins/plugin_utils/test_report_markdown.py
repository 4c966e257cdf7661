# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown report: summarised, and escaped so that EM text cannot break its tables or inject markup."""

from __future__ import annotations

import re

import pytest
from markupsafe import Markup

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import evaluate
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance_report import combine_reports
from ansible_collections.veeam.enterprise_manager.plugins.plugin_utils.report_markdown import ENVIRONMENT, Markdown, escape_markdown, render_markdown
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.report_samples import NASTY, NOW, contract_report, sample_report, session


def test_markdown_escapes_and_summarises():
    text = render_markdown(sample_report())
    assert "<script>" not in text
    assert "\\|" in text and "\\*" in text
    assert text.startswith("# CDP replication compliance: NON COMPLIANT")
    assert "## Policies" in text and "## VMs needing attention" in text
    assert "warn" not in text.split("## VMs needing attention")[1]  # its only warning is waived


def test_markdown_caps_vm_details_visibly():
    records = [session("vm%03d" % index, "2025-06-14T02:00:00Z", "2025-06-14T03:00:00Z") for index in range(30)]
    text = render_markdown(evaluate(records, now=NOW), max_vms=10)
    assert "20 more VMs need attention" in text


def test_hostile_values_cannot_break_a_table_row():
    text = render_markdown(sample_report(em_host=NASTY, hostile=NASTY))
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "[a](javascript" not in text  # no live link
    assert "\nnext line" not in text  # line breaks folded into the cell
    columns = None
    rows = 0
    for line in text.splitlines():
        cells = len(re.findall(r"(?<!\\)\|", line))
        if not line.startswith("|"):
            columns = None
        elif columns is None:
            columns = cells  # a table's header
        else:
            assert cells == columns, line
            rows += 1
    assert rows >= 4


def test_combined_markdown_lists_every_em():
    combined = combine_reports([sample_report("em1"), {"em_host": "em3", "status": "unreachable", "error": "connection refused"}])
    text = render_markdown(combined)
    assert "## EM servers" in text and "| em3 | unreachable | incomplete | - | connection refused |" in text
    assert "| status | VM | EM | expected | waiver | policy |" in text


# Markdown and HTML syntax, a link, a line break and control characters: nothing of it may reach the text raw.
HOSTILE_FIELD = "<script>x</script>|`code`*b*_c_[l](javascript:alert(1))#~\nnext\x1b[31m\x00\x85"


def _every_string(item, value):
    """``item`` with every string in it (not the keys) replaced by ``value``."""
    if isinstance(item, dict):
        return {key: _every_string(sub, value) for key, sub in item.items()}
    if isinstance(item, list):
        return [_every_string(sub, value) for sub in item]
    return value if isinstance(item, str) else item


@pytest.mark.parametrize("report", [contract_report(), combine_reports([contract_report("em1"), sample_report("em2")])], ids=["single", "combined"])
def test_no_string_field_reaches_the_markdown_unescaped(report):
    text = render_markdown(_every_string(report, HOSTILE_FIELD))
    shown = escape_markdown(HOSTILE_FIELD)
    assert shown == ("&lt;script&gt;x&lt;/script&gt;\\|\\`code\\`\\*b\\*\\_c\\_\\[l\\](javascript:alert(1))\\#\\~ next\u241b\\[31m\u2400\ufffd")
    assert text.count(shown) > 20
    rest = text.replace(shown, "")  # whatever is left is the template's text and the report's numbers
    for fragment in ("script", "javascript", "code", "next", "31m", "`", "\\|", "\\*", "\\_", "\\[", "\\#", "\\~", "&lt;"):
        assert fragment not in rest, fragment
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    for line in text.splitlines():
        assert not line.startswith(("<", "next", "#~")), line


def test_a_value_is_escaped_unless_explicitly_marked_markdown():
    template = ENVIRONMENT.from_string("| {{ cell }} | {{ fragment }} | {{ '**constant|**' }} | {{ none }} |")
    rendered = template.render(cell="**a|b**\n<i>", fragment=Markdown("**bold**"), none=None)
    assert rendered == "| \\*\\*a\\|b\\*\\* &lt;i&gt; | **bold** | \\*\\*constant\\|\\*\\* |  |"
    # Markup is safe for HTML, not for Markdown; a Markdown fragment combined with plain text is plain text again.
    rendered = template.render(cell=Markup("<b>*</b>"), fragment=Markdown("**") + "|", none=None)
    assert rendered == "| &lt;b&gt;\\*&lt;/b&gt; | \\*\\*\\| | \\*\\*constant\\|\\*\\* |  |"
    assert escape_markdown(escape_markdown("a|b")) == "a\\|b"
