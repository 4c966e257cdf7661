# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the time and memory of the fetch path go, stage by stage, in one process.

Used by run_bench.py (``stage_profile``). Each stage runs single-threaded on the same data,
timed with perf_counter (no profiler overhead); tracemalloc measures what each stage keeps.
cProfile tables of normalisation, of the compliance engine and of the audit of 100,000 sessions
(profile-audit-100k.txt: where the audit's time goes, issue 22) go to bench/results/.
"""

from __future__ import annotations

import base64
import cProfile
import concurrent.futures
import io
import json
import pstats
import sys
import time
import tracemalloc

import bench_lib as bl


def _timed(func, *args):
    started = time.perf_counter()
    value = func(*args)
    return value, time.perf_counter() - started


def fetch_bodies(sim, spec_filter, pages, page_size, workers, accept="application/xml"):
    """GET the pages with a plain keep-alive requests.Session (no decoding); returns bodies and seconds."""
    import requests
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment would override verify
    session.verify = sim.ca_path
    response = session.post(sim.url + "/api/sessionMngr/?v=latest", auth=(bl.USERNAME, bl.PASSWORD), timeout=60)
    token = response.headers["X-RestSvcSessionId"]
    headers = {"X-RestSvcSessionId": token, "Accept": accept}
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=workers + 1)
    session.mount("https://", adapter)

    def get(page):
        url = "%s/api/query?type=CdpReplicaTaskSession&format=Entities&sortAsc=CreationTimeUTC&pageSize=%d&page=%d&filter=%s" % (
            sim.url, page_size, page, requests.utils.quote(spec_filter, safe=""))
        reply = session.get(url, headers=headers, timeout=120)
        reply.raise_for_status()
        return reply.content

    cpu_before = sim.cpu_seconds()
    started = time.perf_counter()
    if workers > 1:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            bodies = list(pool.map(get, range(1, pages + 1)))
    else:
        bodies = [get(page) for page in range(1, pages + 1)]
    elapsed = time.perf_counter() - started
    sim_cpu = sim.cpu_seconds() - cpu_before
    # The simulator's token is the base64 of the logon session id, as EM's is.
    session.delete(sim.url + "/api/logonSessions/" + base64.b64decode(token).decode("ascii"), headers=headers, timeout=60)
    session.close()
    return bodies, elapsed, sim_cpu


def stage_profile(sim, window, expected, results_dir):
    """Time HTTP, decode, normalise, dedupe, Ansible's remove_values and JSON encoding, and controller-side decoding."""
    sys.path.insert(0, bl.BUILD_COLLECTIONS)
    # pylint: disable=import-outside-toplevel
    from ansible.module_utils.common import json as ansible_json
    from ansible.module_utils.common.parameters import remove_values
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import decode_query_page
    from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import normalise_task_session
    filter_text = 'CreationTimeUTC>="%s";CreationTimeUTC<="%s"' % window
    pages = -(-expected // 1000)
    out = {"records": expected, "pages": pages}
    bodies, out["http_sequential_s"], out["sim_cpu_sequential_s"] = fetch_bodies(sim, filter_text, pages, 1000, 1)
    _bodies, out["http_4_workers_s"], out["sim_cpu_4_workers_s"] = fetch_bodies(sim, filter_text, pages, 1000, 4)
    out["body_mb"] = round(sum(len(body) for body in bodies) / 2.0 ** 20, 1)

    decoded, out["decode_s"] = _timed(lambda: [decode_query_page(body, "application/xml; charset=utf-8") for body in bodies])
    raw_items = [item for page in decoded for item in page.items]
    del decoded
    records, out["normalise_s"] = _timed(lambda: [normalise_task_session(item) for item in raw_items])
    del raw_items
    json_bodies, _seconds, _cpu = fetch_bodies(sim, filter_text, pages, 1000, 4, accept="application/json")
    json_items, out["decode_json_s"] = _timed(lambda: [item for body in json_bodies for item in decode_query_page(body, "application/json").items])
    _dummy, out["normalise_json_items_s"] = _timed(lambda: [normalise_task_session(item) for item in json_items])
    del json_bodies, json_items
    # Memory with tracemalloc (which slows allocation-heavy code several times, hence separate from the timing):
    # the first 10 pages, scaled to the whole set.
    scale = len(bodies) / 10.0
    tracemalloc.start()
    sample = [item for body in bodies[:10] for item in decode_query_page(body, "application/xml").items]
    out["raw_items_mb"] = round(tracemalloc.get_traced_memory()[0] * scale / 2.0 ** 20, 1)
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    sample_records = [normalise_task_session(item) for item in sample]
    out["normalised_records_mb"] = round((tracemalloc.get_traced_memory()[0] - before) * scale / 2.0 ** 20, 1)
    out["decode_one_page_peak_mb"] = round(_one_page_peak(decode_query_page, bodies[0]) / 2.0 ** 20, 1)
    tracemalloc.stop()
    del sample, sample_records

    def dedupe():
        seen = set()
        for record in records:
            uid = record["uid"]
            if uid not in seen:
                seen.add(uid)
    _dummy, out["dedupe_s"] = _timed(dedupe)
    result = {"changed": False, "sessions": records, "count": len(records), "truncated": False, "filter": filter_text, "pages": pages + 1}
    cleaned, out["ansible_remove_values_s"] = _timed(remove_values, result, {bl.PASSWORD})
    encoder = ansible_json.get_module_encoder("legacy", ansible_json.Direction.MODULE_TO_CONTROLLER)
    text, out["ansible_module_json_encode_s"] = _timed(lambda: json.dumps(cleaned, cls=encoder))
    _dummy, out["plain_json_encode_s"] = _timed(json.dumps, cleaned)
    out["module_output_mb"] = round(len(text) / 2.0 ** 20, 1)
    without_links = dict(result, sessions=[{key: value for key, value in record.items() if key != "links"} for record in records])
    cleaned_nl, out["ansible_remove_values_without_links_s"] = _timed(remove_values, without_links, {bl.PASSWORD})
    text_nl, out["ansible_module_json_encode_without_links_s"] = _timed(lambda: json.dumps(cleaned_nl, cls=encoder))
    out["module_output_without_links_mb"] = round(len(text_nl) / 2.0 ** 20, 1)
    decoder = ansible_json.get_module_decoder("legacy", ansible_json.Direction.MODULE_TO_CONTROLLER)
    _dummy, out["controller_json_decode_s"] = _timed(lambda: json.loads(text, cls=decoder))
    del cleaned, text, cleaned_nl, text_nl, without_links

    profiler = cProfile.Profile()
    profiler.enable()
    for item in [item for page in [decode_query_page(body, "application/xml") for body in bodies[:10]] for item in page.items]:
        normalise_task_session(item)
    profiler.disable()
    write_profile(profiler, bl.os.path.join(results_dir, "profile-decode-normalise.txt"))
    return {key: round(value, 3) if isinstance(value, float) else value for key, value in out.items()}


def _one_page_peak(decode, body):
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    page = decode(body, "application/xml")
    peak = tracemalloc.get_traced_memory()[1] - before
    del page
    return peak


def profile_audit(direct_audit, window, path):
    """cProfile of the audit's consuming thread (decode, normalise, engine; the paging threads only fetch) over a window;
    returns its seconds and task sessions. direct_audit(window) -> (seconds, run_audit result)."""
    profiler = cProfile.Profile()
    profiler.enable()
    seconds, result = direct_audit(window)
    profiler.disable()
    write_profile(profiler, path)
    return {"audit_profiled_s": round(seconds, 3), "audit_profiled_sessions": result["counts"]["task_sessions"]}


def write_profile(profiler, path):
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(30)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(stream.getvalue())
