# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading one EM answer within bounds: a total deadline per request and a maximum body size.

``timeout`` bounds each socket read only, so a body trickled one byte per read would never end, and a
body read whole could exhaust the controller. The body is streamed instead, in large reads that return
whatever has arrived (``read1``), and both bounds are checked after every read.
"""

from __future__ import annotations

import re
import socket
import time

from .errors import CommunicationError

try:
    import requests
    import urllib3.exceptions
    import urllib3.response
except ImportError:  # client.py reports the missing library
    pass

MIB = 1024 * 1024
# One read: large, so a 100,000-record query costs few Python-level iterations (docs/performance.md).
CHUNK = MIB
# urllib3 < 2 has no read1(): read smaller pieces there, so the deadline is checked often enough.
FALLBACK_CHUNK = 64 * 1024
# The default cap: a base for error pages and small documents, plus a generous size per record of a page
# (a CDP task session with its links is about 2 KiB in XML).
BASE_BODY_LIMIT = 16 * MIB
BODY_LIMIT_PER_RECORD = 64 * 1024


def body_limit(params, max_response_mb=None):
    """The largest body accepted for a request: max_response_mb when set, else derived from its pageSize."""
    if max_response_mb:
        return int(max_response_mb) * MIB
    return BASE_BODY_LIMIT + BODY_LIMIT_PER_RECORD * _page_size(params)


def _page_size(params):
    if isinstance(params, dict):
        value = params.get("pageSize")
    else:
        match = re.search(r"(?:^|&)pageSize=(\d+)", params or "")
        value = match.group(1) if match else None
    try:
        return max(int(value), 0) if value is not None else 0
    except (TypeError, ValueError):
        return 0


class Bounds:
    """The deadline (time.monotonic() value) and size limit of one request, and how to name them in errors."""

    def __init__(self, deadline, limit, where, base_url, request_timeout):
        self.deadline = deadline
        self.limit = limit
        self.where = where
        self.base_url = base_url
        self.request_timeout = request_timeout

    def check_time(self, method, path):
        if time.monotonic() > self.deadline:
            raise CommunicationError(
                "%s to EM at %s did not complete within %s s (request_timeout): EM (or a proxy) sends its answer too slowly. "
                "Raise request_timeout if EM is just slow." % (self.where, self.base_url, self.request_timeout),
                method=method, path=path, timeout=self.request_timeout)

    def too_large(self, size, method, path):
        return CommunicationError(
            "%s to EM at %s: EM's answer is implausibly large (%s bytes, more than the %d MiB limit). Lower page_size, or raise "
            "max_response_mb if EM really sends such pages." % (self.where, self.base_url, size, self.limit // MIB),
            method=method, path=path)


def _reader(raw):
    """A function returning the next piece of the (decoded) body, b"" at its end."""
    if isinstance(raw, urllib3.response.HTTPResponse):
        if hasattr(raw, "read1"):
            return lambda: raw.read1(CHUNK, decode_content=True)
        return lambda: raw.read(FALLBACK_CHUNK, decode_content=True)
    return lambda: raw.read(CHUNK)  # any file-like object a transport adapter may set


def read_body(response, bounds, method, path):
    """The whole body of a streamed response, or CommunicationError naming the limit it broke.

    Read errors are raised as the requests exceptions ``response.content`` would raise, so the caller's
    retry rules stay the same.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > bounds.limit:
        response.close()
        raise bounds.too_large(declared, method, path)
    raw = response.raw
    read = _reader(raw)
    chunks = []
    size = 0
    try:
        while True:
            bounds.check_time(method, path)
            chunk = read()
            if not chunk:
                break
            size += len(chunk)
            if size > bounds.limit:
                raise bounds.too_large("at least %d" % size, method, path)
            chunks.append(chunk)
    except CommunicationError:
        response.close()
        raise
    except (urllib3.exceptions.ReadTimeoutError, socket.timeout) as exc:
        raise requests.exceptions.ReadTimeout(exc)
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc)
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError, OSError) as exc:
        raise requests.exceptions.ChunkedEncodingError(exc)
    release = getattr(raw, "release_conn", None)
    if release:
        release()  # back to the pool: the next page reuses the TLS connection
    return b"".join(chunks)
