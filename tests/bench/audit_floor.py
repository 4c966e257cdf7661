# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor of the audit (issue 22): a plain client pulling the audit's task-session pages, then the engine over them.

Run by run_bench.py in a child process, so that the bodies it holds (about 1 GB for a million sessions) leave
with it. The pull asks for exactly the pages the audit asks for: the audit's filter (audit.prepare_audit), page 1
newest first to learn the pin and the page count, then the pinned pages in ascending creation order but the last
(whose records page 1 already holds), pageSize 1000, JSON, with a keep-alive ``requests`` session, TLS verified
against the simulator's CA and WORKERS threads, as the module's paging threads do. Nothing is decoded while pulling.
Then, timed apart and on one thread, the least work the engine needs: the fastest JSON parser the audit has (msgspec
when installed, else ``json.loads``) on every body, ``fold_task_session`` (the audit's lean normaliser) of every item,
deduplication by UID and a ``ComplianceEvaluator`` (default rules, the audit's window and now) fed every record,
then ``finish()``. Policies and policy sessions (a few pages) are not pulled.

Usage: audit_floor.py --url URL --ca CA --window-start T --window-end T --now T --collections DIR [--sim-pid PID]
Prints one JSON object as the last line of stdout: pull_s, engine_s (decode_s + normalise_s + evaluate_s), floor_s,
sessions, pages, body_mb, sim_cpu_s (the simulator's CPU during the pull) and verdict.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import sys
import time

USERNAME = "EMLAB\\auditor"
PASSWORD = "S3cret!pass"
WORKERS = 4
PAGE_SIZE = 1000


def process_cpu_seconds(pid):
    """User+system CPU seconds of a process so far (/proc/<pid>/stat), or None without one."""
    if not pid:
        return None
    with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def page_items(document):
    """The task-session items and PagesCount of one decoded JSON query page."""
    entities = document.get("Entities") or {}
    items = (entities.get("CdpReplicaTaskSessions") or {}).get("CdpReplicaTaskSessions") or []
    return items, (document.get("PagingInfo") or {}).get("PagesCount")


class PlainPull:
    """A keep-alive requests session logged on to the simulator; always logged off by close()."""

    def __init__(self, url, ca_path):
        import requests  # pylint: disable=import-outside-toplevel
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment would override verify
        self.session.verify = ca_path
        self.session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=WORKERS + 1))
        response = self.session.post(url + "/api/sessionMngr/?v=latest", auth=(USERNAME, PASSWORD), timeout=60)
        response.raise_for_status()
        self.token = response.headers["X-RestSvcSessionId"]
        self.headers = {"X-RestSvcSessionId": self.token, "Accept": "application/json"}
        self._quote = requests.utils.quote

    def page(self, filter_expression, page, descending=False):
        url = "%s/api/query?type=CdpReplicaTaskSession&format=Entities&filter=%s&%s=CreationTimeUTC&pageSize=%d&page=%d" % (
            self.url, self._quote(filter_expression, safe=""), "sortDesc" if descending else "sortAsc", PAGE_SIZE, page)
        reply = self.session.get(url, headers=self.headers, timeout=300)
        reply.raise_for_status()
        return reply.content

    def close(self):
        # The simulator's token is the base64 of the logon session id, as EM's is.
        session_id = base64.b64decode(self.token).decode("ascii")
        self.session.delete(self.url + "/api/logonSessions/" + session_id, headers=self.headers, timeout=60)
        self.session.close()


def pull(client, filter_expression, pin_filter):
    """The audit's pages: page 1 newest first, then pages 1..PagesCount-1 pinned; returns the bodies in creation order."""
    first = client.page(filter_expression, 1, descending=True)
    items, pages_count = page_items(json.loads(first))
    if not pages_count or pages_count <= 1:
        return [first], True
    newest = max(item["CreationTimeUTC"] for item in items)
    pinned = pin_filter(filter_expression, newest)
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        bodies = list(pool.map(lambda number: client.page(pinned, number), range(1, pages_count)))
    return bodies + [first], False


def fastest_loads():
    """msgspec's JSON parser when installed (the audit's own choice, decode.py), else the standard library's."""
    try:
        import msgspec  # pylint: disable=import-outside-toplevel
    except ImportError:
        return json.loads
    return msgspec.json.decode


def evaluate(bodies, evaluator, normalise, first_is_reversed, loads=json.loads):
    """Decode, normalise, deduplicate and evaluate every body in order; returns (seconds per stage, sessions)."""
    seconds = {"decode_s": 0.0, "normalise_s": 0.0, "evaluate_s": 0.0}
    seen = set()
    add_session = evaluator.add_session
    clock = time.perf_counter
    for index, body in enumerate(bodies):
        started = clock()
        items, _pages = page_items(loads(body))
        if first_is_reversed and index == len(bodies) - 1:
            items = items[::-1]
        decoded = clock()
        records = [normalise(item) for item in items]
        normalised = clock()
        for record in records:
            uid = record["uid"]
            if uid not in seen:
                seen.add(uid)
                add_session(record)
        seconds["decode_s"] += decoded - started
        seconds["normalise_s"] += normalised - decoded
        seconds["evaluate_s"] += clock() - normalised
    return seconds, len(seen)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    for name in ("--url", "--ca", "--window-start", "--window-end", "--now", "--collections"):
        parser.add_argument(name, required=True)
    parser.add_argument("--sim-pid", type=int, default=0)
    options = parser.parse_args(argv)
    sys.path.insert(0, options.collections)
    # pylint: disable=import-outside-toplevel
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.audit import prepare_audit
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.filters import all_of, quote
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import fold_task_session

    plan = prepare_audit({"window_start": options.window_start, "window_end": options.window_end, "now": options.now,
                          "page_size": PAGE_SIZE, "response_format": "json"})
    filter_expression = plan.task_spec.filter_expression

    def pin_filter(expression, newest):
        # As the module pins its pages (paging.py: QueryIterator._pinned_filter), so the simulator sees the same filter.
        return all_of(["(%s)" % expression if "," in expression else expression, "CreationTimeUTC<=%s" % quote(newest)])

    client = PlainPull(options.url, options.ca)
    try:
        cpu_before = process_cpu_seconds(options.sim_pid)
        started = time.perf_counter()
        bodies, single = pull(client, filter_expression, pin_filter)
        pull_s = time.perf_counter() - started
        cpu_after = process_cpu_seconds(options.sim_pid)
    finally:
        client.close()
    body_mb = sum(len(body) for body in bodies) / 2.0 ** 20
    started = time.perf_counter()
    stages, sessions = evaluate(bodies, plan.evaluator, fold_task_session, not single, fastest_loads())
    report = plan.evaluator.finish()
    engine_s = time.perf_counter() - started
    stages["evaluate_s"] += engine_s - sum(stages.values())  # finish() belongs to the evaluation
    figures = {"pull_s": round(pull_s, 3), "engine_s": round(engine_s, 3), "floor_s": round(pull_s + engine_s, 3),
               "sessions": sessions, "pages": len(bodies), "body_mb": round(body_mb, 1),
               "sim_cpu_s": round(cpu_after - cpu_before, 3) if cpu_before is not None else None,
               "verdict": report["verdict"], "filter": filter_expression, "json_parser": "msgspec" if fastest_loads() is not json.loads else "json"}
    figures.update({key: round(value, 3) for key, value in stages.items()})
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
