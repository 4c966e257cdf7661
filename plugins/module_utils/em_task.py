# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EM's asynchronous tasks: a change answered ``202 Accepted`` with a ``Task``, followed at ``GET /tasks/{ID}``.

States (EM docs, GET /tasks/{ID}): ``Running``; ``OperationFinished`` (done on the backup server, EM has not
collected the result yet); ``Finished`` (EM's database holds the result). ``Result Success="false"`` with its
``Message`` is a failed task. A read of the changed object is only current once the task is ``Finished``.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from .decode import decode_document
from .errors import DecodeError, EmError

FINISHED = "Finished"
POLL_FIRST = 0.2
POLL_MAX = 2.0


class TaskFailedError(EmError):
    """EM reports the task as failed; the message is EM's own."""

    def __init__(self, message, task):
        super().__init__(message, task=task)


class TaskTimeoutError(EmError):
    """The task did not finish within wait_timeout. The change may still be carried out by EM."""

    def __init__(self, message, task):
        super().__init__(message, task=task)


def _get(raw, name):
    wanted = name.lower()
    for key, value in raw.items():
        if str(key).lower() == wanted:
            return value
    return None


def parse_task(response):
    """{id, operation, state, success, message} of a Task document (XML or JSON, any key case)."""
    try:
        dummy, raw = decode_document(response.content, response.headers.get("Content-Type"))
    except DecodeError as exc:
        raise DecodeError("EM's task answer could not be decoded: %s" % exc.message)
    task_id = _get(raw, "TaskId")
    if not task_id:
        raise DecodeError("EM accepted the change (HTTP %d) but named no TaskId to follow." % response.status_code)
    result = _get(raw, "Result")
    success = message = None
    if isinstance(result, dict):
        success = _get(result, "Success")
        if isinstance(success, str):
            success = success.strip().lower() == "true"
        message = _get(result, "Message")
    return {"id": str(task_id), "operation": _get(raw, "Operation"), "state": _get(raw, "State"), "success": success,
            "message": str(message) if message is not None else None}


def submit(client, method, path, params=None, body=None, content_type=None):
    """Send a change EM answers with 202 and a Task; returns the parsed task."""
    response = client.request(method, path, params=params, body=body, content_type=content_type, expected=(202,))
    return parse_task(response)


def wait(client, task, timeout, what, sleep=time.sleep, clock=time.monotonic):
    """Poll the task until EM says Finished. TaskFailedError with EM's message, TaskTimeoutError after ``timeout`` s."""
    deadline = clock() + timeout
    delay = POLL_FIRST
    path = "/api/tasks/%s" % quote(task["id"], safe="")
    while True:
        if task["success"] is False:
            raise TaskFailedError("EM task %s (%s) for %s failed: %s" % (task["id"], task["operation"] or "change", what,
                                                                         task["message"] or "EM gave no message"), task)
        if task["state"] == FINISHED:
            return task
        if clock() >= deadline:
            raise TaskTimeoutError(
                "EM task %s (%s) for %s is still %s after %s s. EM may still carry it out: check the policy later, or raise wait_timeout."
                % (task["id"], task["operation"] or "change", what, task["state"] or "running", timeout), task)
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(delay * 2, POLL_MAX)
        task = parse_task(client.request("GET", path, expected=(200,)))
