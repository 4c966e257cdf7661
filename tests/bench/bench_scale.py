# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of the audit across many EMs and many VMs (issue 22), each simulator small.

Steps (run by run_bench.py after its 1M-session simulator has stopped, or alone):

- multi_em: 20 simulated EMs (seeds 100..119, 100 VMs each, about 10,000 task sessions each in the one-day audit
  window, 50 ms added to every query page) in one inventory group, audited by the collection's cdp_audit playbook
  the way users run it (``ansible-playbook -i inventory veeam.enterprise_manager.cdp_audit``): 1 EM, 20 EMs at
  forks 20, 5 EMs and 20 EMs at forks 10, alternated in each round. Each run is checked: one report per EM with
  the task-session count of its data set, the same verdict for an EM in every run, the combined report naming
  every EM with the worst of their verdicts, and no EM logon session left open.
  multi_em_ratio = the 20-EM wall time at forks 20 over the 1-EM one, per round, median of the rounds.
- growth_vms: the same number of task sessions (about 10,000 in the window) spread over 20, 200 and 2,000 VMs,
  one simulator each, no delay, audited by tests/bench/playbooks/audit_role.yml: what the audit's cost does
  with the number of VMs alone.

Usage alone: bench_scale.py [--runs N] [--only multi_em,growth_vms]; prints one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import bench_lib as bl

STEPS = ("multi_em", "growth_vms")
DATA_NOW = "2026-11-01T00:00:00Z"
WINDOW = ("2026-10-31T00:00:00Z", DATA_NOW)
EM_SEEDS = tuple(range(100, 120))
EM_DATA = {"vms": 100, "days": 2, "interval_hours": 0.24}
EM_PAGE_DELAY_MS = 50
# (label, EMs, forks): alternated in this order in each round.
EM_RUNS = (("1", 1, 5), ("20", 20, 20), ("5", 5, 20), ("20_forks10", 20, 10))
# VMs -> interval between a VM's task sessions (hours): 10,000 sessions a day whatever the VM count.
VM_SIZES = {20: 0.048, 200: 0.48, 2000: 4.8}
VM_SEED = 7
VERDICT_ORDER = {"compliant": 0, "warning": 1, "non_compliant": 2, "incomplete": 3}


def simulator_args(seed, vms, days, interval_hours):
    return ["--seed", str(seed), "--vms", str(vms), "--days", str(days), "--interval-hours", str(interval_hours),
            "--now", DATA_NOW, "--profile", "realistic", "--idle-timeout", "3600"]


def build_inventory(ems, interpreter):
    """The inventory of the cdp_audit playbook: one host per EM in veeam_em_servers; ems maps name -> (url, CA path)."""
    hosts = {name: {"veeam_em_host": url, "veeam_em_ca_path": ca_path} for name, (url, ca_path) in sorted(ems.items())}
    return {"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": interpreter}},
                    "children": {"veeam_em_servers": {"hosts": hosts,
                                                      "vars": {"veeam_em_username": bl.USERNAME, "veeam_em_password": bl.PASSWORD}}}}}


def read_reports(report_dir):
    """The JSON reports a run wrote: (per-EM reports by em_host, combined reports)."""
    per_em, combined = {}, []
    for name in sorted(os.listdir(report_dir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(report_dir, name), encoding="utf-8") as handle:
            document = json.load(handle)
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "cdp_compliance_combined_report":
            combined.append(document)
        elif document.get("kind") == "cdp_compliance_report":
            per_em[document["em_host"].rstrip("/")] = document
    return per_em, combined


def check_reports(per_em, combined, expected_sessions):
    """Check one run's reports against the data sets (expected_sessions: EM URL -> task sessions in the window).

    Returns (verdict per EM URL, the run's verdict); raises RuntimeError saying what is wrong."""
    if set(per_em) != set(expected_sessions):
        raise RuntimeError("reports for %s, expected %s" % (sorted(per_em), sorted(expected_sessions)))
    verdicts = {}
    for url, report in per_em.items():
        read = report["evidence"]["records_read"]["task_sessions"]
        if read != expected_sessions[url]:
            raise RuntimeError("%s: the audit read %d task sessions, its data set has %d" % (url, read, expected_sessions[url]))
        verdicts[url] = report["verdict"]
    worst = max(verdicts.values(), key=VERDICT_ORDER.__getitem__)
    if len(expected_sessions) == 1:
        if combined:
            raise RuntimeError("a combined report for a single EM")
        return verdicts, worst
    if len(combined) != 1:
        raise RuntimeError("%d combined reports, expected 1" % len(combined))
    ems = {em["em_host"].rstrip("/"): em for em in combined[0]["ems"]}
    if set(ems) != set(expected_sessions):
        raise RuntimeError("the combined report names %s, expected %s" % (sorted(ems), sorted(expected_sessions)))
    for url, em in ems.items():
        if em["status"] != "ok" or em["verdict"] != verdicts[url]:
            raise RuntimeError("the combined report says %s/%s for %s, its report %s" % (em["status"], em["verdict"], url, verdicts[url]))
    if combined[0]["verdict"] != worst:
        raise RuntimeError("combined verdict %s, the worst of the EMs' is %s" % (combined[0]["verdict"], worst))
    return verdicts, combined[0]["verdict"]


def check_same_verdicts(known, verdicts):
    """An EM's verdict must not change between runs over the same data; known accumulates them."""
    for url, verdict in verdicts.items():
        if known.setdefault(url, verdict) != verdict:
            raise RuntimeError("%s: verdict %s in this run, %s in an earlier one" % (url, verdict, known[url]))


def data_set_facts():
    """Task sessions in the audit window per data set: {"em": {seed: n}, "vms": {vms: n}} (in a child process)."""
    start_us, end_us = (bl.simdata.parse_iso_us(stamp) for stamp in WINDOW)
    facts = {"em": {}, "vms": {}}
    for seed in EM_SEEDS:
        dataset = bl.simdata.Dataset(seed=seed, now=DATA_NOW, profile="realistic", **EM_DATA)
        facts["em"][seed] = bl.audit_overlap_count(dataset, start_us, end_us)
    for vms, interval in VM_SIZES.items():
        dataset = bl.simdata.Dataset(seed=VM_SEED, vms=vms, days=EM_DATA["days"], interval_hours=interval, now=DATA_NOW, profile="realistic")
        facts["vms"][vms] = bl.audit_overlap_count(dataset, start_us, end_us)
    return facts


def audit_vars(report_dir):
    return {"cdp_compliance_window_start": WINDOW[0], "cdp_compliance_window_end": WINDOW[1], "cdp_compliance_now": DATA_NOW,
            "cdp_compliance_report_dir": report_dir, "cdp_compliance_fail_on_violation": False,
            "cdp_compliance_fail_on_incomplete": False, "cdp_compliance_fail_on_warning": False}


class Scale:
    def __init__(self, runs, scratch, facts):
        self.runs = runs
        self.scratch = scratch
        self.facts = facts
        self.raw = {}

    def _start(self, simulators):
        for simulator in simulators:
            simulator.launch()
        for simulator in simulators:
            simulator.wait_started(300)

    def multi_em(self):
        sims = {seed: bl.Simulator(os.path.join(self.scratch, "em-%d" % seed), simulator_args(seed, **EM_DATA)) for seed in EM_SEEDS}
        try:
            started = time.monotonic()
            self._start(list(sims.values()))
            bl.log("%d simulators up in %.0f s" % (len(sims), time.monotonic() - started))
            for sim in sims.values():
                sim.set_page_delay(EM_PAGE_DELAY_MS)
            return self._multi_em_runs(sims)
        finally:
            with concurrent.futures.ThreadPoolExecutor(len(sims)) as pool:
                list(pool.map(lambda sim: sim.stop(), sims.values()))

    def _multi_em_runs(self, sims):
        ordered = [sims[seed] for seed in EM_SEEDS]
        expected = {sim.url: self.facts["em"][str(seed)] for seed, sim in sims.items()}
        known = {}
        runs = {label: [] for label, _ems, _forks in EM_RUNS}
        for number in range(self.runs):
            for label, count, forks in EM_RUNS:
                chosen = ordered[:count]
                run = self._audit_ems(chosen, forks, "%s-%d" % (label, number), {sim.url: expected[sim.url] for sim in chosen}, known)
                bl.log("multi-EM round %d, %d EMs at forks %d: %.1f s, controller CPU %.1f s, tree RSS %.0f MB, verdict %s" % (
                    number + 1, count, forks, run["wall_s"], run["cpu_s"], run["tree_peak_rss_mb"], run["verdict"]))
                runs[label].append(run)
        self.raw["multi_em"] = runs
        figures = {"multi_em_ems": len(sims), "multi_em_sessions_per_em": bl.median(list(expected.values())),
                   "multi_em_page_delay_ms": EM_PAGE_DELAY_MS}
        for label, subset in runs.items():
            figures["multi_em_wall_%s_s" % label] = bl.median([run["wall_s"] for run in subset])
            figures["multi_em_cpu_%s_s" % label] = bl.median([run["cpu_s"] for run in subset])
            figures["multi_em_tree_peak_rss_%s_mb" % label] = bl.median([run["tree_peak_rss_mb"] for run in subset])
            figures["multi_em_process_peak_rss_%s_mb" % label] = bl.median([max(run["peaks"].values()) for run in subset])
            figures["multi_em_sim_cpu_%s_s" % label] = bl.median([run["sim_cpu_s"] for run in subset])
        figures["multi_em_verdict_20"] = runs["20"][-1]["verdict"]
        figures["multi_em_ratio"] = bl.median([round(twenty["wall_s"] / one["wall_s"], 3) for one, twenty in zip(runs["1"], runs["20"])])
        figures["multi_em_ratio_forks10"] = bl.median([round(twenty["wall_s"] / one["wall_s"], 3)
                                                       for one, twenty in zip(runs["1"], runs["20_forks10"])])
        return figures

    def _audit_ems(self, chosen, forks, tag, expected, known):
        work = os.path.join(self.scratch, "run-" + tag)
        os.makedirs(work)
        inventory = os.path.join(work, "inventory.json")
        with open(inventory, "w", encoding="utf-8") as handle:
            json.dump(build_inventory({os.path.basename(sim.state_dir): (sim.url, sim.ca_path) for sim in chosen}, sys.executable), handle)
        report_dir = os.path.join(work, "reports")
        cpu_before = sum(sim.cpu_seconds() for sim in chosen)
        played = bl.run_playbook("veeam.enterprise_manager.cdp_audit", audit_vars(report_dir), inventory=inventory,
                                 extra_args=["--forks", str(forks)])
        sim_cpu = sum(sim.cpu_seconds() for sim in chosen) - cpu_before
        verdicts, verdict = check_reports(*read_reports(report_dir), expected)
        check_same_verdicts(known, verdicts)
        left_open = {sim.url: sim.open_sessions() for sim in chosen}
        if any(left_open.values()):
            raise RuntimeError("EM logon sessions left open after the audit: %s" % left_open)
        shutil.rmtree(work, ignore_errors=True)
        return {"wall_s": round(played.wall_s, 3), "cpu_s": played.cpu_s, "tree_peak_rss_mb": played.tree_peak_rss_mb,
                "peaks": played.peaks, "sim_cpu_s": round(sim_cpu, 3), "verdict": verdict, "ems": len(chosen), "forks": forks}

    def growth_vms(self):
        sims = {vms: bl.Simulator(os.path.join(self.scratch, "vms-%d" % vms), simulator_args(VM_SEED, vms, EM_DATA["days"], interval))
                for vms, interval in VM_SIZES.items()}
        try:
            self._start(list(sims.values()))
            runs = {vms: [] for vms in sims}
            for number in range(self.runs):
                for vms, sim in sims.items():
                    report_dir = os.path.join(self.scratch, "vms-report-%d-%d" % (vms, number))
                    played = bl.run_playbook("audit_role.yml", {"bench_window_start": WINDOW[0], "bench_window_end": WINDOW[1],
                                                                "bench_now": DATA_NOW, "bench_report_dir": report_dir}, bl.connection_env(sim))
                    check_reports(read_reports(report_dir)[0], [], {sim.url: self.facts["vms"][str(vms)]})
                    shutil.rmtree(report_dir, ignore_errors=True)
                    bl.log("growth VMs %d run %d: %.1f s, controller CPU %.1f s" % (vms, number + 1, played.wall_s, played.cpu_s))
                    runs[vms].append({"wall_s": round(played.wall_s, 3), "cpu_s": played.cpu_s, "tree_peak_rss_mb": played.tree_peak_rss_mb})
        finally:
            for sim in sims.values():
                sim.stop()
        self.raw["growth_vms"] = runs
        figures = {}
        for vms, subset in runs.items():
            figures["growth_vms_%d_s" % vms] = bl.median([run["wall_s"] for run in subset])
            figures["growth_vms_%d_cpu_s" % vms] = bl.median([run["cpu_s"] for run in subset])
            figures["growth_vms_%d_sessions" % vms] = self.facts["vms"][str(vms)]
        return figures


def run(steps, runs, scratch, raw):
    """Run the named steps (STEPS); returns their figures and puts the per-run numbers into raw."""
    if not steps:
        return {}
    os.makedirs(scratch, exist_ok=True)
    facts = json.loads(subprocess.run([sys.executable, os.path.abspath(__file__), "--data-set-facts"], check=True,
                                      stdout=subprocess.PIPE).stdout)
    bl.log("scale data sets: %s" % json.dumps(facts))
    scale = Scale(runs, scratch, facts)
    figures = {}
    try:
        for name in steps:
            started = time.monotonic()
            bl.log("== %s" % name)
            step_figures = getattr(scale, name)()
            figures.update(step_figures)
            bl.log("%s done in %.0f s: %s" % (name, time.monotonic() - started, json.dumps(step_figures)))
    finally:
        raw.update(scale.raw)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", type=lambda text: [name for name in text.split(",") if name], default=list(STEPS))
    parser.add_argument("--data-set-facts", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.data_set_facts:
        print(json.dumps(data_set_facts()))
        return 0
    bl.sync_build_tree()
    scratch = tempfile.mkdtemp(prefix="veeam-em-bench-scale-")
    raw = {}
    try:
        figures = run([step for step in STEPS if step in options.only], options.runs, scratch, raw)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
