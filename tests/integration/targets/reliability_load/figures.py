# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print one load phase's figures from two /_sim/state snapshots and check that every session was logged off.

Usage: figures.py PHASE SECONDS RUNS RECORDS_PER_RUN STATE_BEFORE STATE_AFTER
"""

from __future__ import annotations

import json
import sys


def main():
    phase, seconds, runs, records = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with open(sys.argv[5], encoding="utf-8") as handle:
        before = json.load(handle)
    with open(sys.argv[6], encoding="utf-8") as handle:
        after = json.load(handle)

    def delta(name):
        return after[name] - before[name]

    queries = after["requests"].get("query", 0) - before["requests"].get("query", 0)
    print("%s: %d concurrent runs x %d records in %.1f s wall (%.0f records/s); EM logons %d, logoffs %d, failed logons %d, "
          "query requests %d; open sessions before %d, after %d"
          % (phase, runs, records, seconds, runs * records / seconds, delta("logons"), delta("logoffs"), delta("failed_logons"),
             queries, before["open_sessions"], after["open_sessions"]))
    problems = []
    if delta("logons") != runs or delta("logoffs") != runs:
        problems.append("expected %d logons and logoffs" % runs)
    if delta("failed_logons") or delta("expired_sessions"):
        problems.append("no logon may fail or expire")
    if after["open_sessions"] != before["open_sessions"]:
        problems.append("sessions were left open")
    if problems:
        sys.exit("%s: %s" % (phase, "; ".join(problems)))


if __name__ == "__main__":
    main()
