# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of the collection against the TLS EM simulator (``make bench``).

Starts one simulator on loopback (2,000 VMs, 30 days, a task session every 1.44 h per VM:
1,001,407 task sessions), runs every benchmark, stops the simulator and every playbook it
started (also on failure or SIGTERM), writes the raw per-run numbers to bench/results/ and
prints one JSON object with the medians as the LAST line of stdout. Progress goes to stderr.
See docs/performance.md for what each figure measures.

Every published target is in BENCH_TARGETS; the bench judges each figure against it (met / missed / not
measured), prints that table before the JSON line and writes it as ``<figure>_target`` entries.

Options: --runs N (runs per figure, default 3), --audit-runs N (default 2), --skip-audit, --skip-profile,
--skip-scale (no bench_scale.py: many EMs and VMs), --only STEP,... (only these steps, after the warm-up),
--quick (1 run each, no profile).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import bench_lib as bl
import bench_scale

# The module_utils as the playbooks see them (the synced build tree), for the in-process figures.
sys.path.insert(0, bl.BUILD_COLLECTIONS)

SIM_ARGS = ["--seed", "42", "--vms", "2000", "--days", "30", "--interval-hours", "1.44", "--now", "2026-11-01T00:00:00Z",
            "--profile", "realistic", "--idle-timeout", "3600",
            # Keeps every rendered session: else each read of the million renders it again and the simulator, not the
            # client, bounds the audit and its floor.
            "--render-cache-records", "3000000"]
DATA_NOW = "2026-11-01T00:00:00Z"
AUDIT_WINDOW = ("2026-10-02T00:00:00Z", DATA_NOW)
PAGE_DELAY_MS = 100
DEFAULT_WORKERS = 4
# Issue 22: the audit's cost against the latency per page, at these delays (ms) on the 10k window.
GROWTH_DELAYS_MS = (0, 50, 100)

# Every published target: figure -> (operator, value, the issue that set it). docs/performance.md's "Targets"
# table lists the same (tests/unit/bench/test_targets.py keeps the two equal).
BENCH_TARGETS = {
    "fetch_100k_wall_s": ("<=", 15, 6),
    "fetch_100k_peak_rss_mb": ("<=", 600, 6),
    "baseline_ratio_10k": (">=", 20, 6),
    "baseline_equal_ratio_10k": (">=", 6, 6),
    "engine_100k_s": ("<=", 1, 6),
    "audit_1m_wall_s": ("<=", 120, 6),
    # Each within this factor of ceil(pages / workers) x PAGE_DELAY_MS.
    "latency_floor_ratio_1p": ("<=", 1.1, 16),
    "latency_floor_ratio_10k": ("<=", 1.1, 16),
    "latency_floor_ratio_100k": ("<=", 1.1, 16),
    "audit_1m_floor_ratio": ("<=", 1.5, 22),
    "audit_1m_peak_rss_mb": ("<=", 250, 22),
    "multi_em_ratio": ("<=", 1.3, 22),
}
_COMPARE = {"<=": lambda measured, target: measured <= target, ">=": lambda measured, target: measured >= target}


def judge(figures, targets=None):
    """One row per target: (figure, operator, target, measured or None, 'met' / 'missed' / 'not measured', issue)."""
    rows = []
    for key, (operator, target, issue) in (targets or BENCH_TARGETS).items():
        measured = figures.get(key)
        if not isinstance(measured, (int, float)) or isinstance(measured, bool):
            verdict, measured = "not measured", None
        else:
            verdict = "met" if _COMPARE[operator](measured, target) else "missed"
        rows.append((key, operator, target, measured, verdict, issue))
    return rows


def target_entries(rows):
    """The results' `<figure>_target` entries, e.g. "met (<= 1.1)"."""
    return {"%s_target" % key: "%s (%s %s)" % (verdict, operator, target) for key, operator, target, _measured, verdict, _issue in rows}


def targets_table(rows):
    """The targets as printed at the end of a run."""
    lines = ["%-28s %12s %10s  %-12s %s" % ("figure", "measured", "target", "verdict", "issue")]
    for key, operator, target, measured, verdict, issue in rows:
        lines.append("%-28s %12s %10s  %-12s #%s" % (key, "-" if measured is None else measured, "%s %s" % (operator, target), verdict, issue))
    return "\n".join(lines)


def _terminate(signum, _frame):
    # Turn SIGTERM into an exception so every finally block (simulator, playbooks) runs.
    raise SystemExit(128 + signum)


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as handle:
            memory_kb = int(handle.readline().split()[1])
    except OSError:
        memory_kb = 0
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_gb": round(memory_kb / 2.0 ** 20, 1),
            "python": platform.python_version(), "load_average_at_start": list(os.getloadavg()),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def data_set_facts():
    """Exact windows of 100,000 and 10,000 sessions and the audit count, from the simulator's deterministic data."""
    dataset = bl.simdata.Dataset(seed=42, vms=2000, days=30, interval_hours=1.44, now=DATA_NOW, profile="realistic")
    times = sorted(record[bl.simdata.T_CREATED] for record in dataset.tasks)
    window_100k = bl.find_exact_window(times, 100000)
    window_10k = bl.find_exact_window(times, 10000)
    window_1p = bl.find_exact_window(times, 100)
    start_us = bl.simdata.parse_iso_us(AUDIT_WINDOW[0])
    end_us = bl.simdata.parse_iso_us(AUDIT_WINDOW[1])
    vms_100k = len({record[bl.simdata.T_VM] for record in dataset.tasks
                    if bl.simdata.parse_iso_us(window_100k[0]) <= record[bl.simdata.T_CREATED] <= bl.simdata.parse_iso_us(window_100k[1])})
    return {"tasks_total": len(dataset.tasks), "window_100k": window_100k, "window_10k": window_10k, "window_1p": window_1p,
            "vms_in_100k": vms_100k,
            "audit_sessions": bl.audit_overlap_count(dataset, start_us, end_us)}


class Bench:
    def __init__(self, sim, facts, options, scratch):
        self.sim = sim
        self.facts = facts
        self.options = options
        self.scratch = scratch
        self.raw = {}
        self.env = bl.connection_env(sim)
        self.env.update({"ANSIBLE_CALLBACKS_ENABLED": "bench_timer", "BENCH_TIMER_LOG": os.path.join(scratch, "timer.log"),
                         "BENCH_RSS_LOG": os.path.join(scratch, "rss.log"), "BENCH_REAL_PYTHON": sys.executable})
        self.wrapper = bl.write_wrapper_interpreter(scratch)

    # -- helpers ---------------------------------------------------------------------------------

    def _last_lines(self, name, count=0):
        path = os.path.join(self.scratch, name)
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            lines = [json.loads(line) for line in handle if line.strip()]
        os.unlink(path)
        return lines[-count:] if count else lines

    def play(self, playbook, extra_vars, measure_module=False):
        env = dict(self.env)
        if measure_module:
            env["ANSIBLE_PYTHON_INTERPRETER"] = self.wrapper
        played = bl.run_playbook(playbook, extra_vars, env)
        run = {"wall_s": round(played.wall_s, 3), "sampled_peak_rss_mb": played.peaks, "cpu_s": played.cpu_s,
               "tree_peak_rss_mb": played.tree_peak_rss_mb}
        timers = self._last_lines("timer.log")
        if timers:
            run["tasks"] = _task_durations(timers[-1])
        modules = self._last_lines("rss.log")
        if modules:
            biggest = max(modules, key=lambda entry: entry["maxrss_kb"])
            run["module_peak_rss_mb"] = round(biggest["maxrss_kb"] / 1024.0, 1)
            run["module_wall_s"] = max(entry["wall_s"] for entry in modules)
            run["modules"] = modules
        return run

    def direct_client(self, workers=DEFAULT_WORKERS):
        # pylint: disable=import-outside-toplevel
        from ansible_collections.veeam.enterprise_manager.plugins.module_utils.client import EmClient
        from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import ConnectionConfig
        config = ConnectionConfig(host=self.sim.url, port=self.sim.port, username=bl.USERNAME, password=bl.PASSWORD,
                                  ca_path=self.sim.ca_path, workers=workers)
        return EmClient(config)

    def direct_query(self, window, workers=DEFAULT_WORKERS, after_logon=False, **options):
        """The module's query code in this process (module defaults unless options say otherwise): (seconds, result).
        after_logon: time only the query (logon and logoff excluded), as the latency floor counts it."""
        # pylint: disable=import-outside-toplevel
        from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, run_query
        started = time.perf_counter()
        with self.direct_client(workers) as client:
            prepared = prepare_cdp_query(dict(options, created_after=window[0], created_before=window[1]))
            if after_logon:
                client.ensure_session()
                started = time.perf_counter()
            result = run_query(client, prepared)
            seconds = time.perf_counter() - started
        return (seconds if after_logon else time.perf_counter() - started), result

    def direct_audit(self, window):
        """The audit's code in this process (prepare_audit + run_audit, module defaults) over a window, now at its end;
        returns (seconds after logon, result)."""
        # pylint: disable=import-outside-toplevel
        from ansible_collections.veeam.enterprise_manager.plugins.module_utils.audit import prepare_audit, run_audit
        plan = prepare_audit({"window_start": window[0], "window_end": window[1], "now": window[1]})
        with self.direct_client() as client:
            client.ensure_session()
            started = time.perf_counter()
            result = run_audit(client, plan)
            return time.perf_counter() - started, result

    # -- benchmarks ------------------------------------------------------------------------------

    def warm_up(self):
        """Let the simulator build its per-filter indexes once, so no timed run pays for them."""
        for key in ("window_100k", "window_10k"):
            seconds, result = self.direct_query(self.facts[key])
            bl.log("warm-up %s: %d sessions in %.1f s" % (key, result["count"], seconds))
        import profile_paths  # pylint: disable=import-outside-toplevel
        # The uri loop asks for the unpinned filter: one small page builds that index too.
        profile_paths.fetch_bodies(self.sim, 'CreationTimeUTC>="%s";CreationTimeUTC<="%s"' % tuple(self.facts["window_10k"]), 1, 100, 1)

    def simulator_check(self):
        import profile_paths  # pylint: disable=import-outside-toplevel
        filter_text = 'CreationTimeUTC>="%s";CreationTimeUTC<="%s"' % tuple(self.facts["window_100k"])
        runs = []
        for _run in range(self.options.runs):
            _bodies, seconds, sim_cpu = profile_paths.fetch_bodies(self.sim, filter_text, 100, 1000, DEFAULT_WORKERS)
            runs.append({"plain_client_4_workers_s": round(seconds, 3), "simulator_cpu_s": round(sim_cpu, 3)})
        self.raw["simulator_check"] = runs
        return {"sim_plain_client_100k_s": bl.median([run["plain_client_4_workers_s"] for run in runs]),
                "sim_cpu_100k_s": bl.median([run["simulator_cpu_s"] for run in runs])}

    def fetch_100k(self):
        window = self.facts["window_100k"]
        runs = []
        for number in range(self.options.runs):
            run = self.play("fetch.yml", {"bench_created_after": window[0], "bench_created_before": window[1], "bench_expected": 100000},
                            measure_module=True)
            bl.log("fetch 100k run %d: %.1f s, module %.1f s / %.0f MB, processes %s" % (
                number + 1, run["wall_s"], run.get("module_wall_s", -1), run.get("module_peak_rss_mb", -1), run["sampled_peak_rss_mb"]))
            runs.append(run)
        self.raw["fetch_100k"] = runs
        figures = {
            "fetch_100k_wall_s": bl.median([_work_seconds(run) for run in runs]),
            "fetch_100k_playbook_wall_s": bl.median([run["wall_s"] for run in runs]),
            "fetch_100k_peak_rss_mb": bl.median([_task_process_peak(run) for run in runs]),
            "fetch_100k_controller_peak_rss_mb": bl.median([_controller_peak(run) for run in runs]),
        }
        # The info module's action runs the query in the controller worker, so usually no module process exists;
        # report its time only when one was measured rather than print a 0.0 that looks like a figure.
        module_seconds = [run["module_wall_s"] for run in runs if "module_wall_s" in run]
        if module_seconds:
            figures["fetch_100k_module_process_s"] = bl.median(module_seconds)
        return figures

    def _uri_vars(self, page_size):
        window = self.facts["window_10k"]
        return {"bench_created_after": window[0], "bench_created_before": window[1], "bench_page_size": page_size}

    def compare_10k(self):
        window = self.facts["window_10k"]
        rounds = []
        for number in range(self.options.runs):
            entry = {}
            for name, playbook, playbook_vars in (
                    ("baseline_100", "baseline_uri.yml", self._uri_vars(100)),
                    ("module", "fetch.yml", {"bench_created_after": window[0], "bench_created_before": window[1]}),
                    ("baseline_1000", "baseline_uri.yml", self._uri_vars(1000))):
                playbook_vars["bench_expected"] = 10000
                entry[name] = self.play(playbook, playbook_vars)
            bl.log("10k round %d: uri/100 %.1f s, module %.1f s, uri/1000 %.1f s" % (
                number + 1, entry["baseline_100"]["wall_s"], entry["module"]["wall_s"], entry["baseline_1000"]["wall_s"]))
            rounds.append(entry)
        self.raw["compare_10k"] = rounds
        figures = {}
        for suffix, measure in (("", _work_seconds), ("_playbook", lambda run: run["wall_s"])):
            baseline = bl.median([measure(entry["baseline_100"]) for entry in rounds])
            module = bl.median([measure(entry["module"]) for entry in rounds])
            equal = bl.median([measure(entry["baseline_1000"]) for entry in rounds])
            figures.update({"baseline_10k%s_wall_s" % suffix: baseline, "module_10k%s_wall_s" % suffix: module,
                            "baseline_equal_10k%s_wall_s" % suffix: equal, "baseline%s_ratio_10k" % suffix: round(baseline / module, 2),
                            "baseline_equal%s_ratio_10k" % suffix: round(equal / module, 2)})
        return figures

    def latency(self):
        """The module's query code with 100 ms added to every page, after logon, against ceil(pages / workers) x 100 ms.

        Targets (issue 16, BENCH_TARGETS): 1, 10 and 100 pages each within 1.1 x that floor. Without speculative requests
        the first page is always alone (its PagesCount says how many follow), so the least possible is
        (1 + ceil((pages - 1) / workers)) x 100 ms; latency_best_ratio_* reports that bound next to the measurement.
        """
        results = {}
        runs = []
        try:
            for key, label in (("window_1p", "1p"), ("window_10k", "10k"), ("window_100k", "100k")):
                for number in range(self.options.runs):
                    self.sim.set_page_delay(0)
                    no_delay, _result = self.direct_query(self.facts[key], after_logon=True)
                    self.sim.set_page_delay(PAGE_DELAY_MS)
                    seconds, result = self.direct_query(self.facts[key], after_logon=True)
                    floor = math.ceil(result["pages"] / float(DEFAULT_WORKERS)) * PAGE_DELAY_MS / 1000.0
                    best = (1 + math.ceil((result["pages"] - 1) / float(DEFAULT_WORKERS))) * PAGE_DELAY_MS / 1000.0
                    runs.append({"set": label, "run": number + 1, "seconds": round(seconds, 3), "no_delay_seconds": round(no_delay, 3),
                                 "pages": result["pages"], "floor_s": floor, "ratio": round(seconds / floor, 3),
                                 "best_ratio": round(best / floor, 3)})
                    bl.log("latency %s run %d: %.2f s (no delay %.2f s), %d pages, floor %.1f s" % (
                        label, number + 1, seconds, no_delay, result["pages"], floor))
                subset = [run for run in runs if run["set"] == label]
                ratio = bl.median([run["ratio"] for run in subset])
                results["latency_%s_s" % label] = bl.median([run["seconds"] for run in subset])
                results["latency_%s_no_delay_s" % label] = bl.median([run["no_delay_seconds"] for run in subset])
                results["latency_%s_pages" % label] = subset[0]["pages"]
                results["latency_floor_%s_s" % label] = subset[0]["floor_s"]
                results["latency_floor_ratio_%s" % label] = ratio
                results["latency_best_ratio_%s" % label] = subset[0]["best_ratio"]
        finally:
            self.sim.set_page_delay(0)
        self.raw["latency"] = runs
        results["latency_floor_ratio"] = results["latency_floor_ratio_100k"]
        # The same read, no delay, side by side: what response_format costs, and what pausing the collector saves.
        variants = {"json": [], "xml": [], "json_gc_running": []}
        for _run in range(self.options.runs):
            for name, seconds in variants.items():
                seconds.append(round(self._read_100k(name), 3))
        self.raw["read_100k_by_variant"] = variants
        results.update({"read_100k_%s_s" % name: bl.median(seconds) for name, seconds in variants.items()})
        return results

    def _read_100k(self, variant):
        """Seconds of one no-delay read of the 100k window: 'json', 'xml', or 'json_gc_running' (collector left on)."""
        # pylint: disable=import-outside-toplevel
        from ansible_collections.veeam.enterprise_manager.plugins.module_utils import query
        if variant != "json_gc_running":
            return self.direct_query(self.facts["window_100k"], response_format=variant)[0]
        paused, query.gc_paused = query.gc_paused, contextlib.nullcontext
        try:
            return self.direct_query(self.facts["window_100k"], response_format="json")[0]
        finally:
            query.gc_paused = paused

    def engine_100k(self):
        # pylint: disable=import-outside-toplevel
        import cProfile
        from ansible_collections.veeam.enterprise_manager.plugins.module_utils.compliance import ComplianceEvaluator
        window = self.facts["window_100k"]
        _seconds, result = self.direct_query(window)
        sessions = result["sessions"]
        vms = len({session["vm_display_name"] for session in sessions})
        runs = []
        for number in range(max(self.options.runs, 3)):
            profiler = cProfile.Profile() if number == 0 and not self.options.skip_profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            evaluator = ComplianceEvaluator(now=window[1], window={"start": window[0], "end": window[1]})
            for session in sessions:
                evaluator.add_session(session)
            report = evaluator.finish()
            if profiler:
                profiler.disable()
                import profile_paths
                profile_paths.write_profile(profiler, os.path.join(bl.RESULTS_DIR, "profile-engine-100k.txt"))
                continue
            runs.append(round(time.perf_counter() - started, 3))
        self.raw["engine_100k"] = {"runs_s": runs, "sessions": len(sessions), "vms": vms, "verdict": report["verdict"]}
        return {"engine_100k_s": bl.median(runs), "engine_100k_vms": vms}

    def audit_1m(self):
        """The role's audit of the 1M sessions and its floor (audit_floor.py), alternated: audit_1m_floor_ratio."""
        driver = "audit_role.yml" if os.path.exists(os.path.join(bl.REPO, "roles", "cdp_compliance", "tasks", "main.yml")) else "audit_module.yml"
        runs, floors = [], []
        # Untimed: the simulator renders each session once (into its cache), so no timed run pays for that.
        warm = self._audit_floor()
        bl.log("audit 1M floor, warming the simulator's render cache: %.1f s (simulator CPU %.1f s)" % (warm["floor_s"], warm["sim_cpu_s"]))
        for number in range(self.options.audit_runs):
            # Alternate which goes first, so neither always finds the simulator's caches warm from the other.
            for what in ("audit", "floor") if number % 2 == 0 else ("floor", "audit"):
                if what == "floor":
                    floors.append(self._audit_floor())
                    bl.log("audit 1M floor run %d: %.1f s (pull %.1f s, simulator CPU %.1f s; engine %.1f s), %d sessions" % (
                        number + 1, floors[-1]["floor_s"], floors[-1]["pull_s"], floors[-1]["sim_cpu_s"], floors[-1]["engine_s"],
                        floors[-1]["sessions"]))
                    continue
                run, driver = self._audit_once(number, driver)
                runs.append(run)
        self.raw["audit_1m"] = runs
        self.raw["audit_1m_floor"] = floors
        return {"audit_1m_wall_s": bl.median([run["wall_s"] for run in runs]),
                "audit_1m_peak_rss_mb": bl.median([_task_process_peak(run) for run in runs]),
                "audit_1m_controller_peak_rss_mb": bl.median([_controller_peak(run) for run in runs]),
                "audit_1m_cpu_s": bl.median([run["cpu_s"] for run in runs]),
                "audit_1m_sim_cpu_s": bl.median([run["sim_cpu_s"] for run in runs]),
                "audit_1m_sessions": self.facts["audit_sessions"], "audit_1m_runs": len(runs), "audit_1m_driver": runs[-1]["driver"],
                "audit_1m_floor_s": bl.median([floor["floor_s"] for floor in floors]),
                "audit_1m_floor_pull_s": bl.median([floor["pull_s"] for floor in floors]),
                "audit_1m_floor_engine_s": bl.median([floor["engine_s"] for floor in floors]),
                "audit_1m_floor_sim_cpu_s": bl.median([floor["sim_cpu_s"] for floor in floors]),
                # Each round's audit over the floor taken next to it, then the median of the rounds.
                "audit_1m_floor_ratio": bl.median([round(run["wall_s"] / floor["floor_s"], 3) for run, floor in zip(runs, floors)])}

    def _audit_once(self, number, driver):
        """One audit of the 30-day window; returns (run, driver), falling back to the module when the role fails."""
        report_dir = os.path.join(self.scratch, "reports-%d" % number)
        playbook_vars = {"bench_window_start": AUDIT_WINDOW[0], "bench_window_end": AUDIT_WINDOW[1], "bench_now": DATA_NOW,
                         "bench_report_dir": report_dir}
        cpu_before = self.sim.cpu_seconds()
        try:
            run = self.play(driver, playbook_vars, measure_module=True)
        except RuntimeError as exc:
            if driver != "audit_role.yml":
                raise
            bl.log("the role failed, falling back to the module + report action: %s" % str(exc)[-600:])
            driver = "audit_module.yml"
            run = self.play(driver, playbook_vars, measure_module=True)
        run["sim_cpu_s"] = round(self.sim.cpu_seconds() - cpu_before, 3)
        run["driver"] = driver
        run["report_files"] = sorted(os.listdir(report_dir)) if os.path.isdir(report_dir) else []
        run["report_bytes"] = sum(os.path.getsize(os.path.join(report_dir, name)) for name in run["report_files"])
        run["sessions_read"] = _sessions_read(report_dir)
        shutil.rmtree(report_dir, ignore_errors=True)
        if run["sessions_read"] != self.facts["audit_sessions"]:
            raise RuntimeError("the audit read %s task sessions, the data set has %d in its window" % (
                run["sessions_read"], self.facts["audit_sessions"]))
        bl.log("audit 1M run %d (%s): %.1f s, module peak %.0f MB, processes %s, %d report files" % (
            number + 1, driver, run["wall_s"], run.get("module_peak_rss_mb", -1), run["sampled_peak_rss_mb"], len(run["report_files"])))
        return run, driver

    def _audit_floor(self):
        """audit_floor.py in a child process, so the bodies it holds do not stay in this one."""
        command = [sys.executable, os.path.join(bl.BENCH_DIR, "audit_floor.py"), "--url", self.sim.url, "--ca", self.sim.ca_path,
                   "--window-start", AUDIT_WINDOW[0], "--window-end", AUDIT_WINDOW[1], "--now", DATA_NOW,
                   "--collections", bl.BUILD_COLLECTIONS, "--sim-pid", str(self.sim.pid)]
        completed = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
        floor = json.loads(completed.stdout.strip().splitlines()[-1])
        if floor["sessions"] != self.facts["audit_sessions"]:
            raise RuntimeError("the floor pulled %d task sessions, the data set has %d in the audit window" % (
                floor["sessions"], self.facts["audit_sessions"]))
        return floor

    def growth_sessions(self):
        """The role's audit of the 10k and 100k creation windows (the 1M one is audit_1m), alternated: cost against sessions."""
        sizes = (("10k", "window_10k"), ("100k", "window_100k"))
        runs = {label: [] for label, _key in sizes}
        for _label, key in sizes:
            # Untimed: the simulator builds its indexes for these filters once (a scan of the million records each).
            self.direct_audit(self.facts[key])
        for number in range(self.options.runs):
            for label, key in sizes:
                window = self.facts[key]
                report_dir = os.path.join(self.scratch, "growth-%s-%d" % (label, number))
                run = self.play("audit_role.yml", {"bench_window_start": window[0], "bench_window_end": window[1], "bench_now": window[1],
                                                   "bench_report_dir": report_dir}, measure_module=True)
                run["sessions_read"] = _sessions_read(report_dir)
                shutil.rmtree(report_dir, ignore_errors=True)
                bl.log("growth audit %s run %d: %.1f s, %s sessions" % (label, number + 1, run["wall_s"], run["sessions_read"]))
                runs[label].append(run)
        self.raw["growth_sessions"] = runs
        figures = {}
        for label, subset in runs.items():
            figures["growth_sessions_%s_s" % label] = bl.median([run["wall_s"] for run in subset])
            figures["growth_sessions_%s_count" % label] = subset[0]["sessions_read"]
            figures["growth_sessions_%s_cpu_s" % label] = bl.median([run["cpu_s"] for run in subset])
        return figures

    def growth_latency(self):
        """The audit's code in this process (prepare_audit + run_audit) over the 10k window, at each delay per request."""
        window = self.facts["window_10k"]
        runs = {delay: [] for delay in GROWTH_DELAYS_MS}
        try:
            # The first round is a warm-up: the simulator builds its index for the audit's filter once.
            for number in range(self.options.runs + 1):
                for delay in GROWTH_DELAYS_MS:
                    self.sim.set_page_delay(delay)
                    seconds, result = self.direct_audit(window)
                    if number:
                        runs[delay].append({"seconds": round(seconds, 3), "requests": result["pages"],
                                            "sessions": result["counts"]["task_sessions"]})
        finally:
            self.sim.set_page_delay(0)
        self.raw["growth_latency"] = runs
        figures = {}
        for delay, subset in runs.items():
            figures["growth_latency_10k_%dms_s" % delay] = bl.median([run["seconds"] for run in subset])
        figures["growth_latency_10k_requests"] = runs[GROWTH_DELAYS_MS[0]][0]["requests"]
        figures["growth_latency_10k_sessions"] = runs[GROWTH_DELAYS_MS[0]][0]["sessions"]
        return figures

    def history(self):
        """The audit history store (tests/bench/bench_history.py), in a child process so its data leaves with it."""
        completed = subprocess.run([sys.executable, os.path.join(bl.BENCH_DIR, "bench_history.py"), "--runs", str(self.options.runs),
                                    "--collections", bl.BUILD_COLLECTIONS], check=True, stdout=subprocess.PIPE, text=True)
        figures = json.loads(completed.stdout.strip().splitlines()[-1])
        self.raw["history"] = figures
        return figures

    def stage_profile(self):
        import profile_paths  # pylint: disable=import-outside-toplevel
        stages = profile_paths.stage_profile(self.sim, tuple(self.facts["window_100k"]), 100000, bl.RESULTS_DIR)
        stages.update(profile_paths.profile_audit(self.direct_audit, self.facts["window_100k"],
                                                  os.path.join(bl.RESULTS_DIR, "profile-audit-100k.txt")))
        self.raw["stage_profile_100k"] = stages
        return stages


def _sessions_read(report_dir):
    """How many task sessions the audit read, from its JSON report (evidence.records_read), or None without one."""
    for name in sorted(os.listdir(report_dir)) if os.path.isdir(report_dir) else ():
        if not name.endswith(".json"):
            continue
        with open(os.path.join(report_dir, name), encoding="utf-8") as handle:
            report = json.load(handle)
        if report.get("kind") == "cdp_compliance_report":
            return report["evidence"]["records_read"]["task_sessions"]
    return None


def _task_process_peak(run):
    """Peak RSS of the process that ran the query: the module's, or the controller worker's when the task ran in-process."""
    if "module_peak_rss_mb" in run:
        return run["module_peak_rss_mb"]
    return run["sampled_peak_rss_mb"].get("controller_worker", 0.0)


def _controller_peak(run):
    sampled = run["sampled_peak_rss_mb"]
    return max(sampled.get("controller", 0.0), sampled.get("controller_worker", 0.0))


def _work_seconds(run):
    """From the start of the first task to the start of the count check: the tasks that fetch, with the controller's result handling."""
    tasks = run["tasks"]
    return round(sum(task["until_next_s"] for task in tasks if task["task"] != "Check the count"), 3)


def _task_durations(events):
    """Per task: from its start to the next event, which the timer makes the next task's start or the end of the play."""
    return [{"task": event["task"], "until_next_s": round(following["t"] - event["t"], 3)}
            for event, following in zip(events, events[1:]) if event["event"] == "start"]


def _steps(bench, options):
    """The steps on the 1M-session simulator, in order; --only keeps the named ones (the warm-up always runs)."""
    steps = [bench.warm_up, bench.simulator_check, bench.fetch_100k, bench.compare_10k, bench.latency, bench.growth_latency,
             bench.engine_100k, bench.history]
    if not options.skip_profile:
        steps.append(bench.stage_profile)
    if not options.skip_audit:
        steps += [bench.audit_1m, bench.growth_sessions]
    if options.only:
        steps = [step for step in steps if step.__name__ in options.only or step.__name__ == "warm_up"]
    return steps


def _run_steps(steps, summary):
    for step in steps:
        step_started = time.monotonic()
        bl.log("== %s" % step.__name__)
        figures = step()
        if figures and step.__name__ != "stage_profile":
            summary.update(figures)
        bl.log("%s done in %.0f s: %s" % (step.__name__, time.monotonic() - step_started, json.dumps(figures)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--audit-runs", type=int, default=2)
    parser.add_argument("--skip-audit", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--skip-scale", action="store_true", help="skip bench_scale.py (many EMs, VMs)")
    parser.add_argument("--only", type=lambda text: [name for name in text.split(",") if name], default=[],
                        help="comma-separated steps to run (warm_up always runs; multi_em and growth_vms are bench_scale.py's)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-set-facts", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.data_set_facts:
        print(json.dumps(data_set_facts()))
        return 0
    if options.quick:
        options.runs, options.audit_runs, options.skip_profile = 1, 1, True
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    os.makedirs(bl.RESULTS_DIR, exist_ok=True)
    machine = machine_info()
    bl.log("syncing the collection into %s" % bl.COLLECTION_BUILD)
    bl.sync_build_tree()
    scale_only = bool(options.only) and set(options.only) <= set(bench_scale.STEPS)
    scratch = tempfile.mkdtemp(prefix="veeam-em-bench-")
    summary = {}
    record = {"machine": machine, "options": vars(options), "raw": {}}
    try:
        if not scale_only:
            bl.log("computing the data set windows")
            # In a child process: the million-record data set must not inflate this process, which forks every playbook.
            facts = json.loads(subprocess.run([sys.executable, os.path.abspath(__file__), "--data-set-facts"], check=True,
                                              stdout=subprocess.PIPE).stdout)
            bl.log("data set: %s" % json.dumps(facts))
            record["data_set"] = dict(facts, simulator_args=SIM_ARGS)
            with bl.Simulator(os.path.join(scratch, "simulator"), SIM_ARGS) as sim:
                bench = Bench(sim, facts, options, scratch)
                bl.log("simulator up at %s (pid %s)" % (sim.url, sim.pid))
                try:
                    _run_steps(_steps(bench, options), summary)
                finally:
                    record["raw"] = bench.raw
                    summary["open_em_sessions_after"] = sim.open_sessions()
            if "audit_1m_wall_s" in summary:
                summary["growth_sessions_1m_s"] = summary["audit_1m_wall_s"]
                summary["growth_sessions_1m_count"] = summary["audit_1m_sessions"]
        if not options.skip_scale:
            # Its own simulators, after the 1M one has stopped.
            steps = [step for step in bench_scale.STEPS if not options.only or step in options.only]
            summary.update(bench_scale.run(steps, options.runs, os.path.join(scratch, "scale"), record["raw"]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        rows = judge(summary)
        summary.update(target_entries(rows))
        record["summary"] = summary
        record["bench_seconds"] = round(time.monotonic() - started, 1)
        record["load_average_at_end"] = list(os.getloadavg())
        path = os.path.join(bl.RESULTS_DIR, "bench-%s.json" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2)
        bl.log("raw results: %s" % path)
    summary["machine"] = "%d x %s, %.0f GB" % (machine["nproc"], machine["cpu_model"], machine["memory_gb"])
    summary["date_utc"] = machine["date_utc"]
    summary["bench_seconds"] = record["bench_seconds"]
    print(targets_table(rows))
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
