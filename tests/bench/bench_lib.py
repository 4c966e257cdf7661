# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces of the benchmarks: the simulator process, the data set maths, timed playbook runs."""

from __future__ import annotations

import bisect
import collections
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_DIR = os.path.join(REPO, "tests", "bench")
SIMULATOR = os.path.join(REPO, "tests", "simulator", "em_simulator.py")
RESULTS_DIR = os.path.join(REPO, "bench", "results")
BUILD_COLLECTIONS = os.path.join(REPO, ".build", "bench-collections")
COLLECTION_BUILD = os.path.join(BUILD_COLLECTIONS, "ansible_collections", "veeam", "enterprise_manager")
USERNAME = "EMLAB\\auditor"
PASSWORD = "S3cret!pass"

sys.path.insert(0, os.path.join(REPO, "tests", "simulator"))
from emsim import data as simdata  # noqa: E402  pylint: disable=wrong-import-position

US = simdata.US


def venv_bin(name):
    """A tool next to the running interpreter (the bench runs from .venv)."""
    return os.path.join(os.path.dirname(sys.executable), name)


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    # Rounded so an even count does not print float noise such as 222.14999999999998.
    return round((ordered[middle - 1] + ordered[middle]) / 2.0, 3)


def sync_build_tree():
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "utils", "sync_build_tree.py"), REPO, COLLECTION_BUILD],
                   check=True, stdout=subprocess.DEVNULL)


class Simulator:
    """One TLS EM simulator process on loopback, always stopped by stop() (or the context manager)."""

    def __init__(self, state_dir, args):
        self.state_dir = state_dir
        self.args = list(args)
        self.process = None
        self.port = None
        self.url = None
        self.ca_path = os.path.join(state_dir, "certs", "ca.pem")
        self._context = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, timeout=120):
        self.launch()
        return self.wait_started(timeout)

    def launch(self):
        """Start the process and return at once; wait_started() waits for its port (so many can start in parallel)."""
        os.makedirs(self.state_dir, exist_ok=True)
        port_file = os.path.join(self.state_dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        command = [sys.executable, SIMULATOR, "--bind", "127.0.0.1", "--port", "0", "--port-file", port_file, "--tls",
                   "--cert-dir", os.path.join(self.state_dir, "certs")] + self.args
        with open(os.path.join(self.state_dir, "stdout.log"), "w", encoding="utf-8") as out:
            # A session of its own, so that stop() can signal the simulator and nothing else.
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                            start_new_session=True)
        return self

    def wait_started(self, timeout=120):
        port_file = os.path.join(self.state_dir, "port")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("simulator exited during start-up (see %s/stdout.log)" % self.state_dir)
            if os.path.exists(port_file):
                with open(port_file, encoding="ascii") as handle:
                    text = handle.read().strip()
                if text:
                    self.port = int(text)
                    self.url = "https://127.0.0.1:%d" % self.port
                    self._context = ssl.create_default_context(cafile=self.ca_path)
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("simulator did not start within %d s" % timeout)

    def stop(self):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def control(self, method, path, body=None):
        request = urllib.request.Request(self.url + "/_sim/" + path, method=method,
                                         data=json.dumps(body).encode("utf-8") if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self._context, timeout=300) as response:
            text = response.read()
        return json.loads(text) if text else None

    def set_page_delay(self, milliseconds):
        self.control("POST", "config", {"page_delay_ms": int(milliseconds)})

    def open_sessions(self):
        return self.control("GET", "state").get("open_sessions")

    def cpu_seconds(self):
        """User+system CPU time the simulator process has used so far."""
        with open("/proc/%d/stat" % self.process.pid, encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / float(ticks)


def connection_env(sim):
    return {
        "VEEAM_EM_HOST": sim.url, "VEEAM_EM_PORT": str(sim.port), "VEEAM_EM_USERNAME": USERNAME, "VEEAM_EM_PASSWORD": PASSWORD,
        "VEEAM_EM_CA_PATH": sim.ca_path, "VEEAM_EM_VALIDATE_CERTS": "true",
    }


# ---------------------------------------------------------------------------------------- data set maths

def fmt_second(micros):
    """A whole-second ISO time (EM filters carry whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(micros // US))


def exact_window(creation_times, count, start_index):
    """created_after/created_before (whole seconds) selecting exactly ``count`` sessions, or None.

    ``creation_times`` is sorted (microseconds). The window opens at the second of the session
    at ``start_index`` and closes at the first whole second at or after the count-th session,
    which must come before the next session.
    """
    after_us = creation_times[start_index] // US * US
    first = bisect.bisect_left(creation_times, after_us)
    last = first + count - 1
    if last + 1 >= len(creation_times):
        return None
    before_us = -(-creation_times[last] // US) * US
    if before_us >= creation_times[last + 1]:
        return None
    return fmt_second(after_us), fmt_second(before_us)


def find_exact_window(creation_times, count, near_fraction=0.5):
    start = int(len(creation_times) * near_fraction)
    for offset in range(0, 5000):
        window = exact_window(creation_times, count, start + offset)
        if window:
            return window
    raise RuntimeError("no whole-second window holds exactly %d sessions" % count)


def audit_overlap_count(dataset, start_us, end_us):
    """Sessions the audit's server-side filter selects: created <= end and (ended >= start or not Completed)."""
    count = 0
    for rec in dataset.tasks:
        if rec[simdata.T_CREATED] > end_us:
            continue
        ended = rec[simdata.T_ENDED]
        if rec[simdata.T_STATE] != "Completed" or (ended is not None and ended >= start_us):
            count += 1
    return count


# ---------------------------------------------------------------------------------------- playbook runs

def write_wrapper_interpreter(directory):
    """A shell script ansible can use as ansible_python_interpreter: runs rss_python.py under this venv."""
    path = os.path.join(directory, "python-rss")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\nexec '%s' '%s' \"$@\"\n" % (sys.executable, os.path.join(BENCH_DIR, "rss_python.py")))
    os.chmod(path, 0o755)
    return path


PlaybookRun = collections.namedtuple("PlaybookRun", "wall_s tree_maxrss_mb output peaks cpu_s tree_peak_rss_mb")


def playbook_command(playbook, vars_path, inventory=None, extra_args=()):
    """The ansible-playbook command line: a bench playbook by file name (tests/bench/playbooks), else a path or a
    collection playbook name (veeam.enterprise_manager.cdp_audit) as given; localhost only unless an inventory is given."""
    if os.sep not in playbook and playbook.endswith((".yml", ".yaml")):
        playbook = os.path.join(BENCH_DIR, "playbooks", playbook)
    hosts = ["-i", inventory] if inventory else ["-i", "localhost,", "-c", "local"]
    return [venv_bin("ansible-playbook")] + hosts + ["-e", "@" + vars_path] + list(extra_args) + [playbook]


def run_playbook(playbook, extra_vars, env_extra=None, timeout=1200, inventory=None, extra_args=()):
    """Run ansible-playbook; returns a PlaybookRun: wall seconds, wait4 ru_maxrss in MB, output, sampled RSS peaks per
    process kind, CPU seconds (user + system) of the whole process tree, and the peak of the tree's summed RSS.

    The wait4 figure is only an upper bound: a child forked from this process starts with this process's RSS.
    """
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": BUILD_COLLECTIONS,
        "ANSIBLE_LOCAL_TEMP": os.path.join(tempfile.gettempdir(), "bench-ansible-local"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(tempfile.gettempdir(), "bench-ansible-remote"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    })
    env.update(env_extra or {})
    with tempfile.TemporaryDirectory(prefix="bench-play-") as scratch:
        vars_path = os.path.join(scratch, "vars.json")
        with open(vars_path, "w", encoding="utf-8") as handle:
            json.dump(extra_vars, handle)
        out_path = os.path.join(scratch, "output.txt")
        command = playbook_command(playbook, vars_path, inventory, extra_args)
        with open(out_path, "wb") as out:
            started = time.monotonic()
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out,  # pylint: disable=consider-using-with
                                       stderr=subprocess.STDOUT, start_new_session=True)
        timer = threading.Timer(timeout, _kill_group, (process.pid,))
        timer.start()
        poller = RssPoller(process.pid)
        poller.start()
        try:
            # wait4 instead of Popen.wait: it also returns the rusage of the finished process tree.
            _pid, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            _kill_group(process.pid)
            process.wait()
            raise
        finally:
            timer.cancel()
            poller.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        with open(out_path, "rb") as handle:
            output = handle.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise RuntimeError("%s failed (rc %d):\n%s" % (playbook, process.returncode, output[-4000:]))
    # ansible-playbook waits for its workers and their modules, so its rusage holds their CPU time too.
    return PlaybookRun(wall, usage.ru_maxrss / 1024.0, output, poller.peaks(), round(usage.ru_utime + usage.ru_stime, 3),
                       poller.tree_peak_rss_mb)


class RssPoller(threading.Thread):
    """Samples /proc every 100 ms for the RSS of one process and all its descendants (controller, workers, modules).

    wait4()'s ru_maxrss is no use here: a child forked from a large parent starts with the parent's RSS.
    """

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.samples = {}
        # The largest sum of the RSS of every process of the tree at one sample (shared pages counted in each).
        self.tree_peak_rss_mb = 0.0
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()
        self.join(5)

    def run(self):
        while not self._stop_event.wait(0.1):
            self._poll()

    def _poll(self):
        parents = {}
        stats = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name, encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(name)] = int(fields[1])
            stats[int(name)] = fields
        total = 0.0
        for pid, fields in stats.items():
            chain = pid
            depth = 0
            while chain not in (self.root, 0, 1) and depth < 20:
                chain = parents.get(chain, 0)
                depth += 1
            if chain != self.root:
                continue
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as handle:
                    argv = " ".join(os.path.basename(arg.decode("utf-8", "replace")) for arg in handle.read().split(b"\0") if arg)
            except OSError:
                continue
            rss_mb = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2.0 ** 20
            if "AnsiballZ" in argv:
                role = "module"
            elif pid == self.root:
                role = "controller"
            elif parents.get(pid) == self.root:
                role = "controller_worker"
            else:
                role = "other"
            entry = self.samples.setdefault(pid, {"role": role, "peak_rss_mb": 0.0})
            entry["peak_rss_mb"] = max(entry["peak_rss_mb"], round(rss_mb, 1))
            total += rss_mb
        self.tree_peak_rss_mb = max(self.tree_peak_rss_mb, round(total, 1))

    def peaks(self):
        """Per kind of process (controller, controller_worker, module, other), the largest sampled RSS in MB."""
        result = {}
        for entry in self.samples.values():
            result[entry["role"]] = max(result.get(entry["role"], 0.0), entry["peak_rss_mb"])
        return result


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
