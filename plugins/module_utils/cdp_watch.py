# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of the cdp_events event source: one poll of EM turned into events, and the state between polls.

Completed task sessions are found by their end time, not their creation time, so a session that ran for
hours and completed a minute ago is found, however old it is. Each poll asks for the sessions that ended
after the high-water mark minus an overlap (EM may record a completion a little late, and a poll takes
time); the UIDs already raised inside that overlap are remembered, so nothing is raised twice, and
forgotten once the mark has moved past them, so memory stays bounded.

Events are delivered one by one; ``delivered(index)`` records each one, ``commit()`` the whole poll.
A source cancelled half-way keeps what it delivered and finds the rest again on the next run.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tempfile

from .audit import prepare_audit, run_audit
from .errors import InvalidInputError
from .query import prepare_cdp_query, run_query
from .runner import open_client
from .timeutil import format_utc, parse_em_time, parse_time, utcnow

STATE_VERSION = 1
# EM writes a completed session a little after its end time; a poll may also run for seconds.
OVERLAP = datetime.timedelta(minutes=5)
EVENT_KEY = "veeam_em"
ATTENTION = ("warning", "non_compliant")


def session_event(em_host, record):
    return {EVENT_KEY: {"type": "cdp_task_session", "em_host": em_host, "session": record}}


def verdict_event(em_host, vm, previous):
    findings = [dict(finding) for finding in vm.get("findings") or ()]
    return {EVENT_KEY: {"type": "cdp_vm_verdict", "em_host": em_host, "vm": vm["name"], "policy": vm.get("policy"),
                        "verdict": vm["status"], "previous_verdict": previous, "findings": findings}}


def status_event(em_host, status, error=None):
    return {EVENT_KEY: {"type": "em_status", "em_host": em_host, "status": status, "error": error}}


class WatchState:
    """What survives between polls (and, with state_file, restarts): the mark, recent UIDs, the verdict baseline."""

    def __init__(self, em_host, watermark=None, seen=None, verdicts=None):
        self.em_host = em_host
        self.watermark = watermark
        self.seen = dict(seen or {})
        self.verdicts = None if verdicts is None else dict(verdicts)

    def to_json(self):
        return {"version": STATE_VERSION, "em_host": self.em_host, "watermark": format_iso(self.watermark),
                "seen": dict(self.seen), "verdicts": self.verdicts}

    @classmethod
    def load(cls, path, em_host, log):
        if not path or not os.path.exists(path):
            return cls(em_host)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError("not a state file of this source (version %r)" % (data.get("version") if isinstance(data, dict) else None))
            if data.get("em_host") != em_host:
                log("state_file %s belongs to %s, not %s: starting afresh with lookback" % (path, data.get("em_host"), em_host))
                return cls(em_host)
            watermark = parse_em_time(data["watermark"]) if data.get("watermark") else None
            seen = {str(uid): str(end) for uid, end in (data.get("seen") or {}).items()}
            verdicts = data.get("verdicts")
            if verdicts is not None and not isinstance(verdicts, dict):
                raise ValueError("verdicts is not a mapping")
            return cls(em_host, watermark, seen, verdicts)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError("state_file", "cannot read %s: %s." % (path, exc),
                                    "Delete the file (the source then starts with lookback) or point state_file elsewhere.")

    def save(self, path):
        if not path:
            return
        directory = os.path.dirname(path)
        handle, temporary = tempfile.mkstemp(prefix=".cdp-events-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(self.to_json(), stream, sort_keys=True)
            os.replace(temporary, path)  # atomic: a crash leaves the old state or the new one
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def format_iso(moment):
    return None if moment is None else moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CdpWatcher:
    """Polls one EM. Blocking: the event source runs ``poll()`` in a worker thread, never two at once."""

    def __init__(self, options, log=None, warn=None, clock=utcnow):
        self.options = options
        self._log = log or (lambda message: None)
        self._clock = clock
        # Open for the source's whole life: one logon reused across polls, logged off by close().
        self._stack = contextlib.ExitStack()
        # ansible-rulebook handles SIGTERM itself and cancels the source, whose close() logs off.
        self.client = self._stack.enter_context(open_client(options["connection"], warn=warn or self._log, log=self._log,
                                                            catch_signals=False))
        self.em_host = self.client.base_url
        self.state = WatchState.load(options["state_file"], self.em_host, self._log)
        self._last_verdicts = None
        self._outbox = []
        self._pending = None
        self._poll_seconds = 0.0
        # The future of the poll in flight, set by the event source; it waits for it before logging off.
        self.running_poll = None

    def close(self):
        """Log off (if a session is open) and close the connections."""
        self._stack.close()

    def save(self):
        self.state.save(self.options["state_file"])

    def describe(self):
        """Where the watch stands, for the log."""
        verdicts = self.state.verdicts
        return "sessions that ended after %s, %s" % (
            format_utc(self.state.watermark), "verdicts of %d VMs" % len(verdicts) if verdicts is not None else "no verdicts")

    # -- one poll --------------------------------------------------------------------------------

    def poll(self):
        """Query EM once; returns the events to deliver (nothing is recorded until delivered)."""
        started = self._clock()
        self._outbox = []
        watermark, seen = self._poll_sessions(started)
        verdicts = self.state.verdicts
        if self.options["verdicts"] and self._verdicts_due(started):
            verdicts = self._poll_verdicts(started)
            self._last_verdicts = started
        self._poll_seconds = (self._clock() - started).total_seconds()
        cutoff = watermark - self.overlap
        seen = {uid: end for uid, end in seen.items() if parse_em_time(end) >= cutoff}
        self._pending = (watermark, seen, verdicts)
        return [event for event, dummy in self._outbox]

    @property
    def overlap(self):
        return OVERLAP + datetime.timedelta(seconds=self._poll_seconds)

    def delivered(self, index):
        """Record that event ``index`` of the last poll reached the queue."""
        self._outbox[index][1]()

    def commit(self):
        """Every event of the last poll was delivered: move the mark, forget old UIDs, keep the new baseline."""
        if self._pending is None:
            return
        self.state.watermark, self.state.seen, self.state.verdicts = self._pending
        self._pending = None
        self._outbox = []
        self.save()

    # -- task sessions ---------------------------------------------------------------------------

    def _poll_sessions(self, now):
        state = self.state
        watermark = state.watermark or parse_time(self.options["lookback"], now=now)
        if not self.options["results"]:
            return watermark, dict(state.seen)
        since = watermark - self.overlap if state.watermark else watermark
        prepared = prepare_cdp_query({"state": "Completed", "ended_after": since, "sort_by": "EndTimeUTC"}, now=now)
        sessions = run_query(self.client, prepared)["sessions"]
        wanted = {result.lower() for result in self.options["results"]}
        seen = dict(state.seen)
        for record in sessions:
            uid, end = record.get("uid"), record.get("end_time_utc")
            if not uid or not end or uid in seen:
                continue
            seen[uid] = end
            ended = parse_em_time(end)
            watermark = max(watermark, ended)
            if str(record.get("result")).lower() in wanted:
                self._outbox.append((session_event(self.em_host, record), self._mark_seen(uid, end)))
        return watermark, seen

    def _mark_seen(self, uid, end):
        def mark():
            self.state.seen[uid] = end
        return mark

    # -- verdicts --------------------------------------------------------------------------------

    def _verdicts_due(self, now):
        if self._last_verdicts is None:
            return True
        return (now - self._last_verdicts).total_seconds() >= self.options["verdict_interval"] - 0.001

    def _poll_verdicts(self, now):
        report = run_audit(self.client, prepare_audit(dict(self.options["audit"], now=format_iso(now))))["report"]
        if not (report.get("data") or {}).get("complete", True):
            self._log("verdicts not compared: the audit of %s is incomplete (%s)" % (
                self.em_host, ", ".join(str(issue) for issue in report["data"].get("issues") or ())))
            return self.state.verdicts
        baseline = self.state.verdicts
        current = {}
        for vm in report.get("vms") or ():
            current[vm["name"]] = vm["status"]
            previous = None if baseline is None else baseline.get(vm["name"])
            if vm["status"] == previous or (previous is None and vm["status"] not in ATTENTION):
                continue
            self._outbox.append((verdict_event(self.em_host, vm, previous), self._mark_verdict(vm["name"], vm["status"])))
        return current

    def _mark_verdict(self, name, verdict):
        def mark():
            if self.state.verdicts is None:
                self.state.verdicts = {}
            self.state.verdicts[name] = verdict
        return mark
