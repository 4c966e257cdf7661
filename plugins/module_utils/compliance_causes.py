# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cause, one violation: fold the findings that follow from a root cause into the finding of that cause.

The rules are independent checks, so one fact can trip several of them: an expected VM without any session in
the window also has a whole-window gap, no fresh session and a breached (or unknown) RPO. Counted separately
they inflate the violations and word the cause wrongly. After the checks of a VM ran, ``fold_root_causes``
keeps the root-cause finding (the "lead") and moves the consequences into its ``folded`` list, as evidence.
Only the lead counts; docs/compliance-rules.md ("One cause, one violation") lists the causes.
"""

from __future__ import annotations

from .timeutil import format_epoch

# What follows from "no session in the window" (scope/no_sessions).
_NO_SESSION_CONSEQUENCES = ("gap", "stale", "rpo_breached", "rpo_unknown")


def _folded(item):
    return {key: item[key] for key in ("rule", "code", "severity", "message", "evidence")}


def _fold(lead, findings, consequences):
    """``findings`` without ``consequences``, which go into ``lead["folded"]``."""
    if not consequences:
        return findings
    lead.setdefault("folded", []).extend(_folded(item) for item in consequences)
    ids = {id(item) for item in consequences}
    return [item for item in findings if id(item) not in ids]


def _trailing(item, window_end):
    """Whether a gap or RPO finding is only about the gap that runs to the window end (protection stopped)."""
    evidence = item["evidence"]
    if item["code"] == "rpo_breached":
        return evidence.get("to") == window_end
    gaps = evidence.get("gaps") or []
    return len(gaps) == 1 and not evidence.get("more") and gaps[0]["to"] == window_end


def fold_root_causes(findings, facts, cause):
    """The VM's findings with each root cause's consequences folded into it (see the module docstring).

    ``cause`` is compliance_checks.breach_cause(facts). Findings of rules a VM override switched off are simply absent.
    """
    by_code = {}
    for item in findings:
        by_code.setdefault(item["code"], item)
    lead = by_code.get("no_sessions")
    if lead is not None:
        return _fold(lead, findings, [item for item in findings if item is not lead and item["code"] in _NO_SESSION_CONSEQUENCES])
    lead = by_code.get("stale")
    if lead is None:
        return findings
    # Protection stopped: the trailing gap and the RPO breach it causes are the same fact as the stale VM.
    window_end = format_epoch(facts.window.end_s)
    consequences = [item for item in findings if item["code"] in ("gap", "rpo_breached") and _trailing(item, window_end)]
    if cause not in ("gap", "no_sessions_in_window", "never_started"):
        lead["message"] += " (cause: %s)" % cause.replace("_", " ")
        lead["evidence"]["cause"] = cause
    return _fold(lead, findings, consequences)
