# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CDP replication compliance engine: the streaming evaluator that joins sessions, policies and rules.

``ComplianceEvaluator.add_session`` folds normalised CDP task-session records into per-VM state
(compliance_coverage); ``finish`` joins each VM with its policy and effective rules, runs the checks
(compliance_checks) and assembles the report (compliance_report). ``evaluate`` is the one-shot form.
Rules and report format: docs/compliance-rules.md and docs/report-format.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from .compliance_causes import fold_root_causes
from .compliance_checks import (
    VM_CHECKS,
    VmFacts,
    apply_waivers,
    breach_cause,
    check_data_sufficiency,
    check_policy_config,
    check_unmatched_pattern,
    gap_threshold,
    rpo_assessment,
)
from .compliance_config import (
    ComplianceConfigError,
    is_glob,
    matches,
    normalize_expected,
    normalize_rules,
    normalize_waivers,
    resolve_window,
)
from .compliance_coverage import STATE_COMPLETED, STATE_PENDING, STATE_RUNNING, TIMELINE_LIMIT, VmState, Window, coverage, running_coverage
from .compliance_policy import describe_policy, describe_policy_session, field_key, unknown_policy
from .compliance_report import assemble_report, plain, policy_entry, status_of
from .timeutil import em_epoch, format_epoch, format_utc, utcnow

# Gaps up to this long count as continuous: CDP task sessions hand over within a second.
MAX_MERGE_TOLERANCE = 5.0

_STATES = (STATE_RUNNING, STATE_PENDING, STATE_COMPLETED)
_STATE_ALIASES = {field_key(state): state for state in _STATES}
_NOT_FOLDED = object()


class ComplianceEvaluator:
    """Streaming evaluator: ``add_session`` per task-session record, then ``finish()`` for the report.

    The window is kept once, as seconds since the epoch (``self.window``: start_s, end_s, now_s).
    """

    def __init__(self, rules=None, now=None, window=None, expected_vms=None, waivers=None, policies=None,
                 policy_sessions=None, truncated=False, evidence=None):
        self.config = normalize_rules(rules)
        self.rules = self.config["rules"]
        now, start, end = resolve_window(window, now)
        self.window = Window(start.timestamp(), end.timestamp(), now.timestamp())
        self.expected = normalize_expected(expected_vms)
        self.waivers = normalize_waivers(waivers)
        self.truncated = bool(truncated)
        if evidence is not None and not isinstance(evidence, Mapping):
            raise ComplianceConfigError("evidence", "expected a dictionary")
        self.evidence = dict(evidence or {})
        self._vms = {}
        self._received = 0
        self._invalid = 0
        self._policies = {}
        self._policy_order = []
        self._policy_sessions = {}
        self._waived = [0] * len(self.waivers)
        self._tolerance = self._merge_tolerance()
        for policy in policies or ():
            self.add_policy(policy)
        for record in policy_sessions or ():
            self.add_policy_session(record)

    def _merge_tolerance(self, rpo=None):
        """Gap below which two sessions merge: at most 5 s, and never more than any gap threshold in use.

        The minimum, because intervals are merged as sessions arrive, before a VM's own threshold is known:
        a tolerance above the smallest threshold could hide a gap that threshold must report.
        """
        candidates = [MAX_MERGE_TOLERANCE, self.rules["coverage"]["fallback_max_gap"]]
        for rule, key in (("coverage", "max_gap"), ("rpo", "target")):
            if self.rules[rule][key] is not None:
                candidates.append(self.rules[rule][key])
        for entries in self.config["overrides"].values():
            for _pattern, settings in entries:
                candidates.extend(value for rule in ("coverage", "rpo") for key, value in settings.get(rule, {}).items()
                                  if key in ("max_gap", "fallback_max_gap", "target") and value is not None)
        if rpo is not None:
            candidates.append(rpo + self.rules["rpo"]["lag_tolerance"])
        return min(candidates)

    # -- input

    def add_policy(self, policy):
        if not isinstance(policy, Mapping):
            return
        info = describe_policy(policy)
        key = info["uid"] or "name:%s" % info["name"]
        if key not in self._policies:
            self._policy_order.append(key)
        self._policies[key] = info
        self._tolerance = min(self._tolerance, self._merge_tolerance(info["rpo_seconds"]))

    def add_policy_session(self, record):
        if not isinstance(record, Mapping):
            return
        info = describe_policy_session(record)
        if info["uid"]:
            self._policy_sessions[info["uid"]] = info

    def mark_truncated(self, truncated=True):
        self.truncated = self.truncated or bool(truncated)

    def add_sessions(self, records):
        add = self.add_session
        for record in records:
            add(record)

    def add_session(self, record):
        """Fold one normalised CDP task-session record into the per-VM state.

        A record from records.fold_task_session brings its times as seconds too (start_s, end_s): they are not parsed again.
        """
        self._received += 1
        get = record.get
        name = get("vm_display_name")
        if not name:
            session_name = get("name") or ""
            name = session_name.rsplit("@", 1)[0] if "@" in session_name else "(unknown VM)"
        vm = self._vms.get(name)
        if vm is None:
            vm = self._vms[name] = VmState()
        vm.sessions += 1
        start = get("start_s", _NOT_FOLDED)
        folded = start is not _NOT_FOLDED
        if not folded:
            start = em_epoch(get("creation_time_utc"))
        if start is None:
            vm.invalid += 1
            self._invalid += 1
            return
        if start >= vm.latest_start:
            vm.note_latest(start, record)
        state = get("state")
        if state not in _STATES:
            state = _STATE_ALIASES.get(field_key(state), state)
        if folded:
            end = get("end_s")
        else:
            end_text = get("end_time_utc")
            end = em_epoch(end_text) if end_text else None
        vm.add(start, end, state, record, self.window, self._tolerance)

    # -- joins

    def _policy_index(self):
        by_name = {}
        by_vm = {}
        for key in self._policy_order:
            info = self._policies[key]
            if info["name"]:
                by_name.setdefault(info["name"].casefold(), info)
            for vm in info["vms_included"]:
                by_vm.setdefault(vm.casefold(), info)
        return by_name, by_vm

    def _policy_for(self, name, vm, by_name, by_vm):
        """(policy, policy session) of a VM, each None when not found. The first join that works wins:

        1. the newest task session's policy_session_uid -> policy session -> its policy_uid, else its policy_name
           (a policy the list lacks becomes an unknown_policy() stub, so the VM still shows its policy);
        2. the newest task session's policy_session_name, ``<policy>@<time>``, -> policy name;
        3. the policies' Includes listing the VM by name (VMs without sessions).
        """
        session = self._policy_sessions.get(vm.policy_session_uid) if vm is not None and vm.policy_session_uid else None
        if session is not None:
            policy = self._policies.get(session["policy_uid"]) if session["policy_uid"] else None
            if policy is None and session["policy_name"]:
                policy = by_name.get(session["policy_name"].casefold())
            if policy is None and (session["policy_uid"] or session["policy_name"]):
                policy = self._stub_policy(session["policy_uid"], session["policy_name"])
            return policy, session
        if vm is not None and vm.policy_session_name and "@" in vm.policy_session_name:
            policy = by_name.get(vm.policy_session_name.rsplit("@", 1)[0].casefold())
            if policy is not None:
                return policy, None
        return by_vm.get(name.casefold()), None

    def _stub_policy(self, uid, name):
        key = uid or "name:%s" % name
        if key not in self._policies:
            self._policy_order.append(key)
            self._policies[key] = unknown_policy(uid, name)
        return self._policies[key]

    def _effective_rules(self, vm, policy, server_uid, server_name, cache):
        """Rule settings after the overrides matching this backup server, policy and VM (most specific last)."""
        overrides = self.config["overrides"]
        matched = (
            tuple(index for index, (pattern, _s) in enumerate(overrides["backup_servers"])
                  if matches(pattern, server_name) or matches(pattern, server_uid)),
            tuple(index for index, (pattern, _s) in enumerate(overrides["policies"])
                  if policy is not None and (matches(pattern, policy["name"]) or matches(pattern, policy["uid"]))),
            tuple(index for index, (pattern, _s) in enumerate(overrides["vms"]) if vm is not None and matches(pattern, vm)),
        )
        if matched in cache:
            return cache[matched]
        effective = self.rules
        if any(matched):
            effective = {rule: dict(settings) for rule, settings in self.rules.items()}
            for level, indexes in zip(("backup_servers", "policies", "vms"), matched):
                for index in indexes:
                    for rule, settings in overrides[level][index][1].items():
                        effective[rule].update(settings)
        cache[matched] = effective
        return effective

    def _waive(self, findings, target, name):
        """Apply the waivers; the active waiver that covers ``name`` as the report shows it, or None."""
        waiver, applied = apply_waivers(findings, self.waivers, target, name, self.window.now_s)
        if waiver is None:
            return None
        self._waived[next(index for index, item in enumerate(self.waivers) if item is waiver)] += applied
        return {"pattern": waiver["pattern"], "reason": waiver["reason"], "expires": waiver["expires"], "rules": waiver["rules"],
                "applied": applied}

    # -- evaluation

    def finish(self):
        """Build the report (plain types only)."""
        by_name, by_vm = self._policy_index()
        names, in_scope, unmatched = self._scope()
        cache = {}
        vms = [self._evaluate_vm(name, name in in_scope, by_name, by_vm, cache)
               for name in sorted(names, key=lambda item: (item.casefold(), item))]
        vms.extend(self._unmatched_pattern(pattern) for pattern in unmatched)
        policies = self._evaluate_policies(vms)
        return self._report(vms, policies)

    def _scope(self):
        """(VM names to report, names in the expected scope, expected globs that match no VM)."""
        names = set(self._vms)
        in_scope = set()
        unmatched = []
        folded = {}
        for name in names:
            folded.setdefault(name.casefold(), name)
        for pattern in self.expected:
            if is_glob(pattern):
                hits = [name for name in names if matches(pattern, name)]
                in_scope.update(hits)
                if not hits:
                    unmatched.append(pattern)
            elif pattern in names:
                in_scope.add(pattern)
            elif pattern.casefold() in folded:
                in_scope.add(folded[pattern.casefold()])
            else:
                in_scope.add(pattern)
                names.add(pattern)
        if self.rules["scope"]["enabled"] and self.rules["scope"]["from_policies"]:
            for key in self._policy_order:
                for vm in self._policies[key]["vms_included"]:
                    if vm.casefold() not in folded and vm not in names:
                        names.add(vm)
                    in_scope.add(folded.get(vm.casefold(), vm))
        return names, in_scope, unmatched

    def _vm_facts(self, vm, in_scope, policy, session, rules):
        stuck = rules["stuck"]
        intervals, running_now, stuck_running, stuck_pending = running_coverage(
            vm, self.window, stuck["max_task_duration"], stuck["max_pending"], stuck["enabled"], self._tolerance)
        rpo, max_gap, gap_source = gap_threshold(rules["coverage"], rules["rpo"], policy["rpo_seconds"] if policy else None)
        return VmFacts(vm, in_scope, vm.in_window if vm else 0, coverage(intervals, self.window, vm.before_uid if vm else None),
                       running_now, stuck_running, stuck_pending, policy, session, rpo, max_gap, gap_source, self.window)

    def _evaluate_vm(self, name, in_scope, by_name, by_vm, cache):
        vm = self._vms.get(name)
        policy, session = self._policy_for(name, vm, by_name, by_vm)
        server_uid, server_name = (vm.server_uid, vm.server_name) if vm else (None, None)
        if server_name is None and policy is not None:
            server_uid, server_name = policy["backup_server_uid"], policy["backup_server"]
        rules = self._effective_rules(name, policy, server_uid, server_name, cache)
        facts = self._vm_facts(vm, in_scope, policy, session, rules)
        findings = fold_root_causes([item for rule, check in VM_CHECKS for item in check(facts, rules[rule])], facts, breach_cause(facts))
        waiver = self._waive(findings, "vm", name)
        ratio, tier = None, None
        if rules["rpo"]["enabled"] and facts.rpo_seconds is not None and facts.coverage.worst is not None:
            ratio, tier = rpo_assessment(facts.coverage.worst.seconds, facts.rpo_seconds, rules["rpo"]["lag_tolerance"])
        worst = facts.coverage.worst
        entry = {
            "name": name, "status": status_of(findings), "in_scope": in_scope, "expected": in_scope, "waiver": waiver,
            "backup_server": server_name, "backup_server_uid": server_uid,
            "policy": policy["name"] if policy else None, "policy_uid": policy["uid"] if policy else None,
            "rpo_seconds": facts.rpo_seconds, "max_gap_seconds": facts.max_gap, "max_gap_source": facts.gap_source,
            "sessions": facts.in_window, "coverage_percent": facts.coverage.percent,
            "worst_gap_seconds": round(worst.seconds, 3) if worst else 0.0,
            "rpo_ratio": round(ratio, 2) if ratio is not None else None, "rpo_breached": tier is not None, "rpo_tier": tier,
            "replication_failed": any(item["code"] == "replication_failed" for item in findings),
            "running": facts.running_now, "last_session_end": format_epoch(vm.last_end) if vm else None,
            "findings": findings, "timeline": facts.coverage.timeline,
        }
        if facts.coverage.intervals > TIMELINE_LIMIT:
            entry["timeline_more"] = facts.coverage.intervals - TIMELINE_LIMIT
        return entry

    def _unmatched_pattern(self, pattern):
        findings = check_unmatched_pattern(pattern, self.rules["scope"])
        waiver = self._waive(findings, "vm", pattern)
        return {
            "name": pattern, "pattern": True, "status": status_of(findings), "in_scope": True, "expected": True, "waiver": waiver,
            "backup_server": None,
            "backup_server_uid": None, "policy": None, "policy_uid": None, "rpo_seconds": None, "max_gap_seconds": None,
            "max_gap_source": None, "sessions": 0, "coverage_percent": 0.0,
            "worst_gap_seconds": round(self.window.end_s - self.window.start_s, 3),
            "rpo_ratio": None, "rpo_breached": False, "rpo_tier": None, "replication_failed": False, "running": False,
            "last_session_end": None, "findings": findings, "timeline": [],
        }

    def _sessions_by_policy(self):
        """Policy sessions per policy key: by policy_uid, else by policy_name for a policy listed by another uid."""
        sessions_by_policy = {}
        for session in self._policy_sessions.values():
            key = session["policy_uid"]
            if key not in self._policies and session["policy_name"]:
                key = next((k for k in self._policy_order if self._policies[k]["name"] == session["policy_name"]), None)
            sessions_by_policy.setdefault(key, []).append(session)
        return sessions_by_policy

    def _evaluate_policies(self, vms):
        members = {}
        for vm in vms:
            key = vm["policy_uid"] or ("name:%s" % vm["policy"] if vm["policy"] else None)
            if key is not None:
                members.setdefault(key, []).append(vm)
        sessions_by_policy = self._sessions_by_policy()
        cache = {}
        result = []
        for key in self._policy_order:
            info = self._policies[key]
            settings = self._effective_rules(None, info, info["backup_server_uid"], info["backup_server"], cache)["policy_config"]
            findings = check_policy_config(info, sessions_by_policy.get(key, []), settings, self.window)
            self._waive(findings, "policy", info["name"] or info["uid"] or "")
            result.append(policy_entry(info, findings, members.get(key, [])))
        return result

    def _report(self, vms, policies):
        findings, issues = check_data_sufficiency(self.truncated, self._invalid, self.window, self.rules["data_sufficiency"])
        generated = format_utc(utcnow())
        start_s, end_s, now_s = self.window
        window = {"start": format_epoch(start_s), "end": format_epoch(end_s), "seconds": round(end_s - start_s, 3)}
        evidence = plain(self.evidence)
        for key in ("query", "em_host", "api_version", "collection_version"):
            evidence.setdefault(key, None)
        evidence.update({
            "truncated": self.truncated, "window": window, "now": format_epoch(now_s), "generated_at": generated,
            "rules": plain(self.rules),
            "overrides": {level: [{"pattern": pattern, "rules": plain(settings)} for pattern, settings in entries]
                          for level, entries in self.config["overrides"].items()},
            "expected_vms": list(self.expected),
            "waivers": [{key: waiver[key] for key in ("target", "pattern", "reason", "expires", "rules")} for waiver in self.waivers],
            "policies": [plain(self._policies[key]) for key in self._policy_order],
            "sessions_received": self._received,
            "policy_sessions_received": len(self._policy_sessions),
            "merge_tolerance_seconds": self._tolerance,
        })
        waivers = [{"target": waiver["target"], "pattern": waiver["pattern"], "reason": waiver["reason"], "expires": waiver["expires"],
                    "rules": waiver["rules"], "status": "expired" if waiver["expires_at"] <= now_s else "active", "applied": applied}
                   for waiver, applied in zip(self.waivers, self._waived)]
        return assemble_report(vms=vms, policies=policies, findings=findings, issues=issues, truncated=self.truncated, window=window,
                               now=format_epoch(now_s), generated_at=generated, sessions=self._received, waivers=waivers, evidence=evidence)


def evaluate(sessions, **options):
    """One-shot evaluation of an iterable of normalised task-session records; ``options`` are ComplianceEvaluator's."""
    evaluator = ComplianceEvaluator(**options)
    evaluator.add_sessions(sessions or ())
    return evaluator.finish()
