# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-VM coverage: the compact state kept per VM while sessions stream in, and the gaps it leaves in the window.

Times are seconds since the epoch (floats). Raw records are never kept: only merged intervals, a few
aggregates and the sessions that are evidence (failed or warning, still open).
"""

from __future__ import annotations

import bisect
import operator
from collections import namedtuple

TIMELINE_LIMIT = 100

STATE_RUNNING = "InProgress"
STATE_PENDING = "Pending"
STATE_COMPLETED = "Completed"

Window = namedtuple("Window", "start_s end_s now_s")
Window.__doc__ = "The audit window and the evaluation time, in seconds since the epoch."
Gap = namedtuple("Gap", "seconds start end before_uid after_uid")
Gap.__doc__ = "A stretch of the window no session covers; the uids of the sessions on either side (None at an edge)."
RunningSession = namedtuple("RunningSession", "start uid state creation_time_utc")
RunningSession.__doc__ = "A session without end time (InProgress, Pending or another state)."
FlaggedSession = namedtuple("FlaggedSession", "result uid creation_time_utc end_time_utc reason")
FlaggedSession.__doc__ = "A Completed session in the window whose result is Failed or Warning."
Coverage = namedtuple("Coverage", "gaps covered_seconds percent worst timeline intervals")
Coverage.__doc__ = "coverage() of one VM: its gaps, the worst (None without gaps), percent covered and a timeline."


class Interval:
    """A covered stretch: start and end seconds, and the uids of the first and last session in it."""

    __slots__ = ("start", "end", "first_uid", "last_uid")

    def __init__(self, start, end, first_uid, last_uid):
        self.start = start
        self.end = end
        self.first_uid = first_uid
        self.last_uid = last_uid


_interval_start = operator.attrgetter("start")
_interval_end = operator.attrgetter("end")


def insert_interval(intervals, start, end, first_uid, last_uid, tolerance):
    """Add [start, end] to sorted, disjoint intervals, merging with any within ``tolerance`` seconds."""
    if not intervals:
        intervals.append(Interval(start, end, first_uid, last_uid))
        return
    last = intervals[-1]
    if start >= last.start:  # sessions mostly arrive in order: extend the last interval or append one
        if start <= last.end + tolerance:
            if end > last.end:
                last.end = end
                last.last_uid = last_uid
        else:
            intervals.append(Interval(start, end, first_uid, last_uid))
        return
    # Out of order: merge with every interval within tolerance of [start, end]; both ends are sorted.
    # bisect's key= needs Python 3.10, the oldest the collection supports.
    low = bisect.bisect_left(intervals, start - tolerance, key=_interval_end)
    high = bisect.bisect_right(intervals, end + tolerance, key=_interval_start)
    merged = Interval(start, end, first_uid, last_uid)
    if low < high:
        if intervals[low].start < start:
            merged.start, merged.first_uid = intervals[low].start, intervals[low].first_uid
        if intervals[high - 1].end > end:
            merged.end, merged.last_uid = intervals[high - 1].end, intervals[high - 1].last_uid
    intervals[low:high] = [merged]


class VmState:
    """What is kept of one VM's sessions.

    intervals: merged Intervals of ended sessions, clipped to the window.
    running: RunningSessions (no end time), whatever their start.
    flagged: FlaggedSessions (Completed, Failed or Warning, in the window).
    sessions: records seen; in_window: those overlapping the window; invalid: those without a creation time.
    latest_start: creation time of the newest session; policy_session_uid/_name and server_uid/_name come from it.
    last_end, last_end_uid: the latest end at or before the window end, and its session (freshness).
    before_end, before_uid: the latest end at or before the window start (the "before" of a leading gap).
    running_at_end: a session ended after the window end but started within it: protection ran at the end.
    """

    __slots__ = ("intervals", "running", "flagged", "sessions", "in_window", "invalid", "latest_start", "policy_session_uid",
                 "policy_session_name", "server_uid", "server_name", "last_end", "last_end_uid", "before_end", "before_uid",
                 "running_at_end")

    def __init__(self):
        self.intervals = []
        self.running = []
        self.flagged = []
        self.sessions = 0
        self.in_window = 0
        self.invalid = 0
        self.latest_start = float("-inf")
        self.policy_session_uid = None
        self.policy_session_name = None
        self.server_uid = None
        self.server_name = None
        self.last_end = None
        self.last_end_uid = None
        self.before_end = None
        self.before_uid = None
        self.running_at_end = False

    def note_latest(self, start, record):
        """Take the policy session and backup server of the newest session."""
        get = record.get
        self.latest_start = start
        self.policy_session_uid = get("policy_session_uid")
        self.policy_session_name = get("policy_session_name")
        server_uid = get("backup_server_uid")
        server_name = get("backup_server_name")
        if server_uid or server_name:
            self.server_uid = server_uid
            self.server_name = server_name

    def add(self, start, end, state, record, window, tolerance):
        """Fold one session with a valid start (``end`` None while it runs) into the state."""
        get = record.get
        uid = get("uid")
        creation_text = get("creation_time_utc")
        end_text = get("end_time_utc")
        window_start, window_end = window.start_s, window.end_s
        if end is None:
            if state != STATE_COMPLETED:
                self.running.append(RunningSession(start, uid, state, creation_text))
                if start < window_end:
                    self.in_window += 1
                return
            end, end_text = start, creation_text  # Completed without end time: a point
        if end > window_end:
            if start <= window_end:
                self.running_at_end = True
        elif self.last_end is None or end > self.last_end:
            self.last_end = end
            self.last_end_uid = uid
        if end <= window_start:
            if self.before_end is None or end > self.before_end:
                self.before_end = end
                self.before_uid = uid
            return
        if start >= window_end:
            return
        self.in_window += 1
        result = get("result")
        if (result == "Failed" or result == "Warning") and state == STATE_COMPLETED:
            self.flagged.append(FlaggedSession(result, uid, creation_text, end_text, get("reason")))
        insert_interval(self.intervals, start if start > window_start else window_start, end if end < window_end else window_end,
                        uid, uid, tolerance)


def running_coverage(vm, window, max_task_duration, max_pending, stuck_enabled, tolerance):
    """Intervals of ``vm`` plus what its open sessions cover until now: (intervals, running_now, stuck_running, stuck_pending).

    Pending covers nothing. InProgress covers until now, but a session running for longer than
    ``max_task_duration`` only that long after its start while the stuck rule is on: a stuck session is no protection.
    """
    intervals = [Interval(item.start, item.end, item.first_uid, item.last_uid) for item in vm.intervals] if vm else []
    running_now = False
    stuck_running, stuck_pending = [], []
    for session in vm.running if vm else ():
        age = window.now_s - session.start
        if session.state == STATE_PENDING:
            if age > max_pending:
                stuck_pending.append({"uid": session.uid, "creation_time_utc": session.creation_time_utc, "pending_seconds": round(age, 3)})
            continue
        if session.start <= window.end_s:
            running_now = True
        covered_until = window.now_s
        if session.state == STATE_RUNNING and age > max_task_duration:
            stuck_running.append({"uid": session.uid, "creation_time_utc": session.creation_time_utc, "running_seconds": round(age, 3)})
            if stuck_enabled:
                covered_until = session.start + max_task_duration
        if covered_until > window.start_s and session.start < window.end_s:
            insert_interval(intervals, max(session.start, window.start_s), min(covered_until, window.end_s), session.uid, None, tolerance)
    return intervals, running_now, stuck_running, stuck_pending


def coverage(intervals, window, before_uid=None):
    """Gaps between the intervals and at the window's edges, covered seconds, percent and a timeline.

    ``before_uid``: the session that ended last before the window, the "before" of a leading gap.
    """
    gaps = []
    previous_end, previous_uid = window.start_s, before_uid
    covered = 0.0
    for interval in intervals:
        if interval.start - previous_end > 0:
            gaps.append(Gap(interval.start - previous_end, previous_end, interval.start, previous_uid, interval.first_uid))
        covered += interval.end - interval.start
        previous_end, previous_uid = interval.end, interval.last_uid
    if window.end_s - previous_end > 0:
        gaps.append(Gap(window.end_s - previous_end, previous_end, window.end_s, previous_uid, None))
    window_seconds = window.end_s - window.start_s
    percent = round(100.0 * covered / window_seconds, 2) if window_seconds > 0 else 0.0
    if covered < window_seconds and percent >= 100.0:
        percent = 99.99  # never round a gap away
    # The longest gap; of equally long ones the latest.
    worst = max(gaps, key=lambda gap: (gap.seconds, gap.start)) if gaps else None
    timeline = [[int(item.start - window.start_s), int(item.end - window.start_s + 0.999)] for item in intervals[:TIMELINE_LIMIT]]
    return Coverage(gaps, covered, percent, worst, timeline, len(intervals))
