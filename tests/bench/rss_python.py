#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A python interpreter stand-in that records the peak RSS of what it runs.

Set as ansible_python_interpreter, it runs the real interpreter (BENCH_REAL_PYTHON) on the
AnsiballZ payload with the same arguments and stdio, then appends one JSON line to
BENCH_RSS_LOG: the peak resident set size (getrusage RUSAGE_CHILDREN ru_maxrss) of that
process tree, i.e. of the module process, not of this wrapper.
"""

import json
import os
import resource
import subprocess
import sys
import time


def main():
    real = os.environ.get("BENCH_REAL_PYTHON") or sys.executable
    started = time.monotonic()
    code = subprocess.call([real] + sys.argv[1:])
    elapsed = time.monotonic() - started
    log = os.environ.get("BENCH_RSS_LOG")
    if log:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        entry = {"argv": [os.path.basename(arg) for arg in sys.argv[1:]], "maxrss_kb": usage.ru_maxrss,
                 "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "wall_s": round(elapsed, 3), "rc": code}
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
