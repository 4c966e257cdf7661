# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cdp_events: an Event-Driven Ansible source of CDP replication events from Veeam Backup Enterprise Manager.

Arguments and events: see DOCUMENTATION below and docs/eda.md.

ansible-rulebook loads this file with runpy.run_path: it is not imported as part of the collection, so
``import ansible_collections...`` would fail. The collection's module_utils are therefore loaded from this
file's own collection directory as a private package (see ``_collection_utils``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import importlib
import logging
import os
import random
import sys
import types

DOCUMENTATION = r"""
---
short_description: Raise events for failed CDP task sessions, VM compliance verdict changes and EM outages.
description:
  - An event source plugin for ansible-rulebook (Event-Driven Ansible) that polls Veeam Backup Enterprise Manager (EM).
  - Raises one event per CDP replica task session that completed with a selected result, found by its end time,
    so sessions that ran for hours and completed late are raised too.
  - With I(verdicts), runs the collection's compliance audit over a sliding window (same rules and policy RPOs as
    M(veeam.enterprise_manager.cdp_compliance_info)) and raises an event when a VM's verdict changes.
  - Raises an C(em_status) event when EM stops answering and when it answers again; backs off while EM is down.
  - Logs on once and reuses the session across polls, logs on again when EM expires it, logs off when the source stops.
  - Every event has one top-level key, C(veeam_em). Passwords and session ids never appear in events or logs.
  - Connection arguments have the same names, defaults and C(VEEAM_EM_*) environment fallbacks as the modules.
options:
  host:
    description: EM host name or base URL. Environment C(VEEAM_EM_HOST).
    type: str
    required: true
  port:
    description: EM REST API port. Environment C(VEEAM_EM_PORT).
    type: int
    default: 9398
  username:
    description: EM account. Environment C(VEEAM_EM_USERNAME).
    type: str
    required: true
  password:
    description: Its password. Environment C(VEEAM_EM_PASSWORD).
    type: str
    required: true
  validate_certs:
    description: Verify EM's TLS certificate. Environment C(VEEAM_EM_VALIDATE_CERTS).
    type: bool
    default: true
  ca_path:
    description: CA certificate file (PEM) that signed EM's certificate. Environment C(VEEAM_EM_CA_PATH).
    type: str
  timeout:
    description: Seconds to wait for each EM answer. Environment C(VEEAM_EM_TIMEOUT).
    type: int
    default: 30
  api_version:
    description: EM API version to log on with. Environment C(VEEAM_EM_API_VERSION).
    type: str
    default: latest
  retries:
    description: Retries of a request that got no answer or HTTP 5xx, within one poll. Environment C(VEEAM_EM_RETRIES).
    type: int
    default: 3
  workers:
    description: Parallel page requests of a large query. Environment C(VEEAM_EM_WORKERS).
    type: int
    default: 4
  query_timeout:
    description: Seconds one whole query (every page) may take, within one poll. Environment C(VEEAM_EM_QUERY_TIMEOUT).
    type: int
    default: 1800
  allow_plain_http:
    description: Allow an C(http://) host (test simulators only). Environment C(VEEAM_EM_ALLOW_PLAIN_HTTP).
    type: bool
    default: false
  request_timeout:
    description: Seconds one request may take in total, answer included. Environment C(VEEAM_EM_REQUEST_TIMEOUT).
    type: int
    default: 300
  max_response_mb:
    description:
      - The largest answer read from EM, in MiB. Environment C(VEEAM_EM_MAX_RESPONSE_MB).
      - By default 16 MiB plus 64 KiB per record of a page.
    type: int
  interval:
    description:
      - Seconds between polls (a number, or a duration such as C(30s), C(5m)).
      - While EM is down the source waits twice as long after each failed poll, up to 5 minutes (or I(interval) if longer).
    type: float
    default: 60
  lookback:
    description:
      - On the first poll without a saved state, task sessions that completed within this time raise events.
      - Relative time as the modules take it (C(-15m), C(-2h), C(-1d)) or an ISO 8601 time.
    type: str
    default: -15m
  results:
    description: Results of completed task sessions that raise an event. An empty list raises no session events.
    type: list
    elements: str
    choices: [Success, Warning, Failed, None]
    default: [Failed, Warning]
  state_file:
    description:
      - File where the source keeps its high-water mark, the recently raised session UIDs and the verdict baseline,
        so that a restart neither repeats nor loses events. Written atomically after each poll and when the source stops.
      - Without it, a restart starts again with I(lookback) and a new verdict baseline.
    type: path
  verdicts:
    description:
      - Also raise C(cdp_vm_verdict) events when a VM's compliance verdict changes.
      - The first poll sets the baseline and raises events only for VMs whose verdict is C(warning) or C(non_compliant).
    type: bool
    default: true
  verdict_window:
    description: Start of the sliding audit window the verdicts are judged over, relative to each evaluation.
    type: str
    default: -24h
  verdict_interval:
    description: Seconds between verdict evaluations (each is an audit of the window). Defaults to I(interval).
    type: float
  rules:
    description: Compliance rules, as the C(rules) option of M(veeam.enterprise_manager.cdp_compliance_info).
    type: dict
  expected_vms:
    description: VMs that must be protected, as the C(expected_vms) option of the audit.
    type: list
    elements: str
  waivers:
    description: Accepted findings, as the C(waivers) option of the audit.
    type: list
    elements: dict
notes:
  - Delivery is at most once per session UID and verdict change; events that were not yet delivered when the
    source stopped are raised on the next run (with I(state_file)).
  - A session that EM records more than 5 minutes after its end time and after the high-water mark passed it is
    not raised; the daily audit still reports it.
"""

EXAMPLES = r"""
- name: Notify on failed CDP replication
  hosts: all
  sources:
    - veeam.enterprise_manager.cdp_events:
        host: em.example.com
        username: EXAMPLE\auditor
        password: "{{ em_password }}"
        ca_path: /etc/pki/em-ca.pem
        interval: 60
        lookback: -15m
        results: [Failed]
        state_file: /var/lib/eda/cdp-events-em.json
  rules:
    - name: A CDP task session failed
      condition: event.veeam_em.type == "cdp_task_session"
      action:
        debug:
          msg: "{{ event.veeam_em.session.vm_display_name }}: {{ event.veeam_em.session.reason }}"
"""

LOGGER = logging.getLogger("veeam.enterprise_manager.cdp_events")
BACKOFF_CAP = 300.0
# Relative to this file: extensions/eda/plugins/event_source -> the collection root.
_COLLECTION_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))


def _collection_utils():
    """This collection's module_utils as a private package, loaded from the collection this file belongs to.

    Neither ``ansible_collections`` nor Ansible's collection loader is importable in ansible-rulebook's
    process; a private name also keeps another installed copy of the collection from being mixed in.
    """
    directory = os.path.join(_COLLECTION_ROOT, "plugins", "module_utils")
    name = "_veeam_em_eda_%s" % hashlib.sha256(directory.encode("utf-8")).hexdigest()[:12]
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [directory]
        package.__package__ = name
        sys.modules[name] = package
    return types.SimpleNamespace(**{module: importlib.import_module("%s.%s" % (name, module))
                                    for module in ("cdp_watch", "eda_options", "errors")})


class _ScrubSecrets(logging.Filter):  # pylint: disable=too-few-public-methods
    """Masks the password and session id in urllib3's debug lines (the logoff URL names the session)."""

    def __init__(self, client):
        super().__init__()
        self.client = client

    def filter(self, record):
        message = record.getMessage()
        scrubbed = self.client.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


def backoff_delay(interval, failures):
    """Seconds to wait after the n-th failed poll in a row: doubling from interval, capped, with jitter."""
    cap = max(interval, BACKOFF_CAP)
    return min(cap, interval * (2 ** min(failures - 1, 30))) * random.uniform(0.8, 1.0)


async def main(queue, args):
    """Poll EM until cancelled; put ``{"veeam_em": {...}}`` events on the queue."""
    utils = _collection_utils()
    options = utils.eda_options.source_options(args)
    watcher = utils.cdp_watch.CdpWatcher(options, log=LOGGER.info, warn=LOGGER.warning)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdp_events")
    scrubber = _ScrubSecrets(watcher.client)
    urllib3_logger = logging.getLogger("urllib3.connectionpool")
    urllib3_logger.addFilter(scrubber)
    try:
        await _poll_forever(queue, watcher, options, executor, utils)
    finally:
        # Cancelled (rulebook stops) or failed: finish the poll in flight, keep what was delivered, log off.
        running = watcher.running_poll
        if running is not None and not running.done():
            concurrent.futures.wait([running])
        try:
            watcher.save()
        finally:
            watcher.close()
            executor.shutdown(wait=False)
        urllib3_logger.removeFilter(scrubber)
        LOGGER.info("cdp_events for %s stopped and logged off", watcher.em_host)


async def _poll_forever(queue, watcher, options, executor, utils):
    interval = options["interval"]
    failures = 0
    first = True
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        watcher.running_poll = executor.submit(watcher.poll)
        try:
            events = await asyncio.wrap_future(watcher.running_poll)
        except utils.errors.InvalidInputError:
            raise
        except utils.errors.EmError as exc:
            failures += 1
            if failures == 1:
                LOGGER.warning("EM %s is unreachable: %s", watcher.em_host, exc.message)
                await queue.put(utils.cdp_watch.status_event(watcher.em_host, "unreachable", exc.message))
            delay = backoff_delay(interval, failures)
            LOGGER.info("poll %d failed in a row; next try in %.1f s", failures, delay)
            await asyncio.sleep(delay)
            continue
        if failures:
            failures = 0
            LOGGER.warning("EM %s answers again", watcher.em_host)
            await queue.put(utils.cdp_watch.status_event(watcher.em_host, "recovered"))
        for index, event in enumerate(events):
            await queue.put(event)
            watcher.delivered(index)
        watcher.commit()
        if first:
            first = False
            LOGGER.info("first poll of %s done: %s", watcher.em_host, watcher.describe())
        if events:
            LOGGER.info("%d events from %s", len(events), watcher.em_host)
        await asyncio.sleep(max(0.0, interval - (loop.time() - started)))


if __name__ == "__main__":

    class _PrintQueue:  # pylint: disable=too-few-public-methods
        """Run by hand: ``VEEAM_EM_HOST=... python cdp_events.py`` prints the events."""

        async def put(self, event):
            print(event)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {}))
