# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way every edge opens an EM client, and the shared body of every module's main().

It receives an already constructed AnsibleModule, so this file never imports AnsibleModule.
Libraries are checked where they are used: requests here, jmespath when the jmespath option is
set (query.py), defusedxml when an XML body is read (decode.py).
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import sys
import threading

from .client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, EmClient
from .errors import EmError, Interrupted
from .options import ConnectionConfig
from .query import run_query, truncation_warning


@contextlib.contextmanager
def open_client(options, warn=None, log=None, register_secret=None, *, require_credentials=True, catch_signals=True):
    """Validate the connection options, then yield an EmClient that logs off (if it logged on) when the block ends.

    ``options`` is any mapping holding the connection option names (module params, lookup options);
    ``register_secret`` receives every secret the client learns, so the caller can mask it in its output.
    ``catch_signals=False`` is for a long-lived caller with its own shutdown path (the EDA event source, whose
    host process handles SIGTERM and cancels it): the signals stay with that process.
    """
    config = ConnectionConfig.from_options(options, require_credentials=require_credentials)
    if not HAS_REQUESTS:
        raise EmError("Failed to import the required Python library (requests) on %s's Python %s: %s. Install it (pip install requests) "
                      "or set ansible_python_interpreter to a Python that has it." % (platform.node(), sys.executable, REQUESTS_IMPORT_ERROR))
    with interruptible() if catch_signals else contextlib.nullcontext(), \
            EmClient(config, warn=warn, log=log, register_secret=register_secret) as client:
        yield client


INTERRUPT_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextlib.contextmanager
def interruptible():
    """Turn SIGINT, SIGTERM and SIGHUP into Interrupted for the block, so the EM client inside logs off first.

    AWX's cancel and `timeout` send SIGTERM, whose default action ends the process at once; Ansible's own
    handlers in a worker process (where actions and lookups run) do the same. After the block the previous
    handlers are back and the signal is delivered to them, so the process then ends as it would have. A second
    signal while logging off is ignored: that logoff is one request bounded by client.INTERRUPTED_LOGOFF_TIMEOUT.
    Only the main thread can set handlers; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def handler(signum, frame):
        if received:
            return
        received.append(signum)
        raise Interrupted("the task was interrupted (%s) and logged off from EM." % signal.Signals(signum).name, signum=signum)

    previous = {}
    for name in INTERRUPT_SIGNALS:
        number = getattr(signal, name, None)
        # SIG_IGN stays ignored; None (a handler set outside Python) cannot be restored, so it is left alone.
        if number is not None and signal.getsignal(number) not in (signal.SIG_IGN, None):
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
        if received:
            _deliver(received[0], previous[received[0]])


def _deliver(signum, old):
    """Hand a signal caught by interruptible() to the handler it replaced."""
    if callable(old):
        old(signum, None)
    elif old == signal.SIG_DFL:
        os.kill(os.getpid(), signum)


def execute(module, run, require_credentials=True):
    """The body of a module's main(): open the client, run ``run(module, client)``, exit or fail."""
    try:
        with open_client(module.params, warn=module.warn, log=module.debug, register_secret=module.no_log_values.add,
                         require_credentials=require_credentials) as client:
            result = run(module, client)
    except EmError as exc:
        module.fail_json(**exc.to_result())
    except (Interrupted, KeyboardInterrupt) as exc:  # reached only when the signal's own handler did not end the process
        module.fail_json(msg=getattr(exc, "message", None) or "the task was interrupted and logged off from EM.")
    module.exit_json(**result)


def run_info_query(module, client, prepare):
    """The run() of the query info modules (and their in-process actions): validate, query, warn when truncated."""
    prepared = prepare(module.params)
    result = run_query(client, prepared)
    if result["truncated"]:
        module.warn(truncation_warning(result, prepared.max_records))
    return dict(changed=False, **result)
