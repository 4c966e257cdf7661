# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules: one pure function per rule, from a few facts and the rule's settings to findings.

Per VM, each check takes the VM's VmFacts and the effective settings of its rule; VM_CHECKS lists them in
report order. Policy and data checks take their own small facts. docs/compliance-rules.md says what each
rule means and where a new one goes.
"""

from __future__ import annotations

from collections import namedtuple

from .compliance_config import INFO, VIOLATION, WARNING, matches
from .compliance_policy import text
from .compliance_report import finding, human_duration
from .timeutil import em_epoch, format_epoch

EVIDENCE_LIMIT = 20
# Policy session states in which a policy does not replicate: the cause of an RPO breach.
_STOPPED_STATES = ("Stopped", "Stopping", "Pausing")

VmFacts = namedtuple("VmFacts", "vm in_scope in_window coverage running_now stuck_running stuck_pending policy policy_session "
                                "rpo_seconds max_gap gap_source window")
VmFacts.__doc__ = """What the checks know of one VM.

vm: its VmState, None when no session named it. coverage: compliance_coverage.coverage() with open sessions counted.
running_now: a session was open at the window end. stuck_running/stuck_pending: evidence of the open sessions
over the stuck limits. policy/policy_session: describe_policy()/describe_policy_session() of the joined policy,
or None. rpo_seconds, max_gap, gap_source: gap_threshold(). window: compliance_coverage.Window.
"""


def capped(items, limit=EVIDENCE_LIMIT):
    """First ``limit`` items and how many were cut."""
    items = list(items)
    return items[:limit], max(0, len(items) - limit)


def _plural(count):
    return "" if count == 1 else "s"


def gap_threshold(coverage_settings, rpo_settings, policy_rpo):
    """(RPO, longest allowed gap, where it comes from): configured max_gap, else RPO plus lag, else the fallback."""
    rpo = rpo_settings["target"] if rpo_settings["target"] is not None else policy_rpo
    if coverage_settings["max_gap"] is not None:
        return rpo, coverage_settings["max_gap"], "configured"
    if rpo is not None:
        return rpo, rpo + rpo_settings["lag_tolerance"], "policy_rpo"
    return rpo, coverage_settings["fallback_max_gap"], "default"


def rpo_assessment(worst_gap_seconds, rpo, lag_tolerance):
    """(worst gap / (RPO + lag), breach tier or None): minor up to 2x, major up to 4x, critical beyond."""
    threshold = rpo + lag_tolerance
    ratio = worst_gap_seconds / threshold if threshold > 0 else float("inf")
    if worst_gap_seconds <= threshold:
        return ratio, None
    return ratio, "minor" if ratio <= 2 else "major" if ratio <= 4 else "critical"


def check_scope(facts, settings):
    """An expected VM without any session in the window."""
    if not (facts.in_scope and settings["enabled"] and facts.in_window == 0):
        return []
    vm = facts.vm
    last_end = vm.last_end if vm else None
    evidence = {"last_session_end": format_epoch(last_end), "last_session": vm.last_end_uid if vm else None}
    if last_end is None:
        message = "never protected in the audit window: the VM is in the expected scope but has no CDP task session"
    else:
        message = "not protected in the audit window: the VM is in the expected scope, its last CDP task session ended %s, before the window" % (
            format_epoch(last_end))
    return [finding("scope", "no_sessions", VIOLATION, message, evidence)]


def check_unmatched_pattern(pattern, settings):
    """An expected glob that matches no VM with sessions."""
    if not settings["enabled"]:
        return []
    return [finding("scope", "pattern_unmatched", VIOLATION, "no VM matching the expected pattern %s has any CDP task session" % pattern,
                    {"pattern": pattern})]


def check_coverage(facts, settings):
    """Gaps longer than the VM's gap threshold."""
    long_gaps = [gap for gap in facts.coverage.gaps if gap.seconds > facts.max_gap]
    if not (settings["enabled"] and long_gaps):
        return []
    worst = facts.coverage.worst
    shown, more = capped(sorted(long_gaps, key=lambda gap: gap.start))
    return [finding(
        "coverage", "gap", VIOLATION,
        "%d gap%s longer than %s in the session record (worst %s from %s to %s)" % (
            len(long_gaps), _plural(len(long_gaps)), human_duration(facts.max_gap), human_duration(worst.seconds),
            format_epoch(worst.start), format_epoch(worst.end)),
        {"max_gap_seconds": facts.max_gap, "threshold_source": facts.gap_source, "coverage_percent": facts.coverage.percent,
         "gaps": [{"from": format_epoch(gap.start), "to": format_epoch(gap.end), "seconds": round(gap.seconds, 3), "before": gap.before_uid,
                   "after": gap.after_uid} for gap in shown], "more": more})]


def breach_cause(facts):
    """Why the RPO was breached, when the facts tell: never started, policy off or stopped, no sessions, else a gap."""
    if facts.vm is None or facts.vm.sessions == 0:
        return "never_started"
    if facts.policy is not None and facts.policy["enabled"] is False:
        return "policy_disabled"
    if facts.policy_session is not None and facts.policy_session["state"] in _STOPPED_STATES:
        return "policy_session_%s" % facts.policy_session["state"].lower()
    if facts.in_window == 0:
        return "no_sessions_in_window"
    return "gap"


def check_rpo(facts, settings):
    """The worst gap against the RPO plus lag tolerance, or an info finding when the RPO is unknown."""
    policy, rpo, worst = facts.policy, facts.rpo_seconds, facts.coverage.worst
    if not settings["enabled"]:
        return []
    if rpo is None:
        reason = "no CDP policy found for this VM" if policy is None else "policy %s has no recognisable RPO setting" % policy["name"]
        return [finding("rpo", "rpo_unknown", INFO, "RPO unknown: %s" % reason, {"policy": policy["name"] if policy else None})]
    if worst is None:
        return []
    lag = settings["lag_tolerance"]
    ratio, tier = rpo_assessment(worst.seconds, rpo, lag)
    if tier is None:
        return []
    cause = breach_cause(facts)
    return [finding(
        "rpo", "rpo_breached", settings["%s_severity" % tier],
        "RPO breached (%s): worst gap %s is %.1fx the RPO of %s plus %s lag tolerance%s" % (
            tier, human_duration(worst.seconds), ratio, human_duration(rpo), human_duration(lag),
            "" if cause == "gap" else " (%s)" % cause.replace("_", " ")),
        {"rpo_seconds": rpo, "lag_tolerance_seconds": lag, "threshold_seconds": rpo + lag, "worst_gap_seconds": round(worst.seconds, 3),
         "ratio": round(ratio, 2), "tier": tier, "cause": cause, "from": format_epoch(worst.start), "to": format_epoch(worst.end),
         "before": worst.before_uid, "after": worst.after_uid, "policy": policy["name"] if policy else None})]


def check_failures(facts, settings):
    """Completed sessions in the window that failed or ended with a warning (each session once)."""
    flagged = facts.vm.flagged if facts.vm else []
    if not (flagged and settings["enabled"]):
        return []
    seen = set()
    failed, warned = [], []
    for session in sorted(flagged, key=lambda item: item.creation_time_utc or ""):
        if session.uid in seen:
            continue
        seen.add(session.uid)
        entry = {"uid": session.uid, "creation_time_utc": session.creation_time_utc, "end_time_utc": session.end_time_utc,
                 "reason": text(session.reason)}
        (failed if session.result == "Failed" else warned).append(entry)
    findings = []
    for code, label, entries, severity in (("replication_failed", "failed", failed, settings["failed_severity"]),
                                           ("replication_warning", "ended with a warning", warned, settings["warning_severity"])):
        if entries:
            shown, more = capped(entries)
            reasons = sorted({entry["reason"] for entry in entries if entry["reason"]})
            findings.append(finding(
                "failures", code, severity,
                "%d task session%s %s%s" % (len(entries), _plural(len(entries)), label, (": " + reasons[0][:200]) if reasons else ""),
                {"sessions": shown, "more": more}))
    return findings


def check_stuck(facts, settings):
    """Sessions open for longer than max_task_duration (InProgress) or max_pending (Pending)."""
    if not settings["enabled"]:
        return []
    findings = []
    for code, entries, limit_key, label in (("stuck_in_progress", facts.stuck_running, "max_task_duration", "InProgress"),
                                            ("stuck_pending", facts.stuck_pending, "max_pending", "Pending")):
        if entries:
            shown, more = capped(entries)
            findings.append(finding(
                "stuck", code, VIOLATION,
                "%d session%s %s for longer than %s" % (len(entries), _plural(len(entries)), label, human_duration(settings[limit_key])),
                {"limit_seconds": settings[limit_key], "sessions": shown, "more": more}))
    return findings


def check_freshness(facts, settings):
    """Nothing open at the window end and the last session ended more than max_staleness before it."""
    vm = facts.vm
    if not settings["enabled"] or facts.running_now or (vm and vm.running_at_end):
        return []
    last_end = vm.last_end if vm else None
    limit = settings["max_staleness"]
    window_end = facts.window.end_s
    if last_end is not None and window_end - last_end <= limit:
        return []
    return [finding(
        "freshness", "stale", VIOLATION,
        "no session in progress at the window end and none ended" if last_end is None else
        "protection stopped: no session in progress and the last one ended %s before the window end (%s)" % (
            human_duration(window_end - last_end), format_epoch(last_end)),
        {"max_staleness_seconds": limit, "last_session_end": format_epoch(last_end), "last_session": vm.last_end_uid if vm else None,
         "age_seconds": round(window_end - last_end, 3) if last_end is not None else None})]


def check_invalid_sessions(facts, settings):
    """Sessions of this VM without a valid creation time (always reported: the data rule's setting is report-wide)."""
    del settings
    invalid = facts.vm.invalid if facts.vm else 0
    if not invalid:
        return []
    return [finding("data_sufficiency", "invalid_sessions", INFO,
                    "%d session%s without a valid creation time were ignored" % (invalid, _plural(invalid)), {"count": invalid})]


# (rule, check) per VM, in the order of the report's findings.
VM_CHECKS = (
    ("scope", check_scope),
    ("coverage", check_coverage),
    ("rpo", check_rpo),
    ("failures", check_failures),
    ("stuck", check_stuck),
    ("freshness", check_freshness),
    ("data_sufficiency", check_invalid_sessions),
)


def check_policy_config(policy, sessions, settings, window):
    """Findings of one policy: not listed, disabled, RPO reporting off or unknown, RPO unknown, failed policy sessions."""
    if not settings["enabled"]:
        return []
    label = policy["name"] or policy["uid"]
    findings = []
    if not policy["known"]:
        findings.append(finding("policy_config", "policy_not_found", INFO,
                                "policy %s is referenced by policy sessions but was not in the policy list" % label, {"uid": policy["uid"]}))
    if settings["disabled_policies"] and policy["enabled"] is False:
        findings.append(finding("policy_config", "policy_disabled", WARNING, "policy %s is disabled" % label,
                                {"uid": policy["uid"], "enabled": False}))
    if settings["rpo_reporting"] and policy["known"]:
        findings.extend(_rpo_reporting_findings(policy, label))
    if policy["rpo_seconds"] is None and policy["known"]:
        findings.append(finding("policy_config", "rpo_unknown", INFO, "policy %s has no recognisable RPO setting" % label,
                                {"uid": policy["uid"]}))
    if settings["failed_sessions"]:
        findings.extend(_policy_session_findings(policy, label, sessions, window))
    return findings


def _rpo_reporting_findings(policy, label):
    reporting = policy["rpo_reporting"]
    findings = []
    for level, code, name in (("warning", "rpo_warning_reporting_off", "RPO warning reporting"),
                              ("error", "rpo_error_reporting_off", "RPO error reporting")):
        if reporting[level]["enabled"] is False:
            findings.append(finding("policy_config", code, WARNING, "%s is switched off for policy %s" % (name, label),
                                    {"uid": policy["uid"], "setting": "rpo_reporting.%s" % level, "enabled": False}))
    if reporting["warning"]["enabled"] is None and reporting["error"]["enabled"] is None:
        findings.append(finding("policy_config", "rpo_reporting_unknown", INFO,
                                "RPO reporting settings of policy %s were not found" % label, {"uid": policy["uid"]}))
    return findings


def _policy_session_findings(policy, label, sessions, window):
    """Policy sessions overlapping the window that failed, or ended with a warning."""
    failed, warned = [], []
    for session in sessions:
        start = em_epoch(session["creation_time_utc"])
        end = em_epoch(session["end_time_utc"])
        if start is None or start >= window.end_s or (end is not None and end <= window.start_s):
            continue
        if session["result"] == "Failed":
            failed.append(session)
        elif session["result"] == "Warning" and session["end_time_utc"]:
            warned.append(session)
    findings = []
    for code, entries, severity, outcome in (("policy_session_failed", failed, VIOLATION, "failed"),
                                             ("policy_session_warning", warned, WARNING, "ended with a warning")):
        if not entries:
            continue
        entries.sort(key=lambda session: session["creation_time_utc"] or "")
        shown, more = capped(entries)
        messages = [session["failure_message"] for session in entries if session["failure_message"]]
        findings.append(finding(
            "policy_config", code, severity,
            "%d policy session%s of %s %s%s" % (len(entries), _plural(len(entries)), label, outcome, (": " + messages[0][:200]) if messages else ""),
            {"sessions": [{key: session[key] for key in ("uid", "name", "state", "result", "creation_time_utc", "end_time_utc", "failure_message")}
                          for session in shown], "more": more}))
    return findings


def check_data_sufficiency(truncated, invalid, window, settings):
    """(findings, issues) when the data cannot support a verdict: truncated, beyond EM's history, in the future, unreadable."""
    if not settings["enabled"]:
        return [], []
    found = []
    if truncated:
        found.append(("truncated", "the session query was truncated: not every session was evaluated", {"truncated": True}))
    history_start = window.now_s - settings["history_days"] * 86400
    if window.start_s < history_start:
        found.append(("window_exceeds_history", "the audit window starts %s, before the %d days of session history EM keeps (%s)" % (
            format_epoch(window.start_s), settings["history_days"], format_epoch(history_start)),
            {"window_start": format_epoch(window.start_s), "history_start": format_epoch(history_start),
             "history_days": settings["history_days"]}))
    if window.end_s > window.now_s:
        found.append(("window_in_future", "the audit window ends %s, after the evaluation time %s" % (
            format_epoch(window.end_s), format_epoch(window.now_s)), {"window_end": format_epoch(window.end_s), "now": format_epoch(window.now_s)}))
    if invalid:
        found.append(("invalid_sessions", "%d session records had no valid creation time" % invalid, {"count": invalid}))
    return [finding("data_sufficiency", code, INFO, message, evidence) for code, message, evidence in found], [code for code, _m, _e in found]


def apply_waivers(findings, waivers, target, name, now_s):
    """Waive ``findings`` of a VM or policy by the first active waiver whose pattern matches ``name``.

    Info findings are never waived; a waiver with ``rules`` waives only those rules, and a finding with others folded
    into it (compliance_causes) only when it names their rules too. Each expired matching
    waiver adds an info finding ``waiver_expired``. Returns (the active waiver or None, findings it waived).
    """
    active = None
    for waiver in waivers:
        if waiver["target"] != target or not matches(waiver["pattern"], name):
            continue
        if waiver["expires_at"] <= now_s:
            findings.append(finding("waiver", "waiver_expired", INFO,
                                    "waiver expired on %s and no longer applies (reason was: %s)" % (waiver["expires"], waiver["reason"]),
                                    {"pattern": waiver["pattern"], "expires": waiver["expires"], "reason": waiver["reason"],
                                     "rules": waiver["rules"]}))
        elif active is None:
            active = waiver
    if active is None:
        return None, 0
    applied = 0
    for item in findings:
        rules = {item["rule"]}.union(folded["rule"] for folded in item.get("folded", ()) if folded["severity"] != INFO)
        if item["severity"] == INFO or (active["rules"] is not None and not rules.issubset(active["rules"])):
            continue
        item["waived"] = True
        item["waiver"] = {"pattern": active["pattern"], "reason": active["reason"], "expires": active["expires"]}
        applied += 1
    return active, applied
