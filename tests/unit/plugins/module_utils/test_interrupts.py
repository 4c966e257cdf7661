# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 17 item 5 (review F6): a real SIGINT/SIGTERM during a query logs off the EM session.

A child process runs a query through runner.open_client (what every module, action and lookup uses)
against the simulator, which trickles the first query answer so the child is mid-request; the test
then signals the child and counts logons and logoffs through /_sim/state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

CHILD = r"""
import json, os, signal, sys
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, run_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import open_client
options, previous = json.loads(sys.argv[1]), sys.argv[2]
if previous == "ansible_worker":
    # What ansible-core's WorkerProcess installs: end the process at once (os._exit) on SIGINT/SIGTERM.
    def term(signum, frame):
        signal.signal(signum, signal.SIG_DFL)
        sys.stdout.write("worker handler ran\n")
        sys.stdout.flush()
        os._exit(1)
    signal.signal(signal.SIGINT, term)
    signal.signal(signal.SIGTERM, term)
with open_client(options) as client:
    sys.stdout.write("querying\n")
    sys.stdout.flush()
    run_query(client, prepare_cdp_query({"page_size": 5}))
sys.stdout.write("finished\n")
"""


def default_dispositions():
    """Start the child as a terminal would: a runner started under nohup (SIGHUP ignored) must not decide the test."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def wait_for(predicate, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("previous", ["default", "ansible_worker"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_signal_during_a_query_logs_off(em_sim, signum, previous):
    em_sim.faults({"on": "query", "action": "trickle", "every_ms": 200, "size": 100000, "times": -1})
    options = em_sim.options(workers=2)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(options), previous], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_dispositions)
    try:
        assert wait_for(lambda: em_sim.state()["open_sessions"] == 1 and em_sim.query_requests()), "the child never got to query"
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    state = em_sim.state()
    assert state["logons"] == 1 and state["logoffs"] == 1 and state["open_sessions"] == 0, (out, err)
    assert "finished" not in out
    # After logging off, the signal reaches the handler that was there before, so the process ends as it would have.
    if previous == "ansible_worker" and signum != signal.SIGHUP:  # ansible-core handles SIGINT and SIGTERM only
        assert "worker handler ran" in out and child.returncode == 1
    elif signum == signal.SIGINT:
        assert "KeyboardInterrupt" in err
    else:
        assert child.returncode == -signum


def test_interruptible_restores_the_handlers_and_leaves_other_threads_alone():
    import threading

    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import interruptible
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    with interruptible():
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    assert {number: signal.getsignal(number) for number in before} == before
    seen = []

    def in_thread():
        with interruptible():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == [before[signal.SIGTERM]]


def test_interruptible_leaves_an_ignored_signal_ignored():
    # Under nohup SIGHUP is ignored on purpose; a query must not make a hang-up end the process.
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import interruptible
    # SIGTERM at its default, whatever the runner inherited, shows that the other signals still get the handler.
    before = {signal.SIGHUP: signal.signal(signal.SIGHUP, signal.SIG_IGN),
              signal.SIGTERM: signal.signal(signal.SIGTERM, signal.SIG_DFL)}
    try:
        with interruptible():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
