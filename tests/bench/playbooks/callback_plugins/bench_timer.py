# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Records when each task starts (bench only).

It takes no per-result event on purpose: ansible-core hands every callback that implements one its own
deep copy of the result, which for 100,000 records costs about 1.8 s and would be measured as the task's.
A task's time is therefore from its start to the next task's start.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Task timings for the benchmarks
description:
  - Appends one JSON object per task to the file named by the BENCH_TIMER_LOG environment variable.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("BENCH_TIMER_LOG")
        self._events = []
        self._started = time.time()

    def _event(self, kind, name):
        self._events.append({"event": kind, "task": name, "t": round(time.time() - self._started, 4)})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._event("start", task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._event("stats", None)
        if self._path:
            with open(self._path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(self._events) + "\n")
