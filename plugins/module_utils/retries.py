# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the EM client retries, and how long it waits between attempts (EmClient._send runs the loop)."""

from __future__ import annotations

import random

RETRYABLE_STATUS = frozenset((500, 502, 503, 504))
# Besides HTTP statuses, a retry set may name TIMEOUT (read/connect timeouts) and CONNECTION (resets, refused).
TIMEOUT = "timeout"
CONNECTION = "connection"
RETRY_IDEMPOTENT = RETRYABLE_STATUS | {TIMEOUT, CONNECTION}
# A logon is retried only when no request reached EM (connection refused, 503): a retried logon must not leak a session.
RETRY_LOGON = frozenset((503, CONNECTION))
# Methods EM may receive twice; a POST that EM may have carried out is never sent again.
IDEMPOTENT_METHODS = frozenset(("GET", "PUT", "DELETE"))
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


def retry_set(method):
    """What a request with this HTTP method may retry."""
    return RETRY_IDEMPOTENT if method in IDEMPOTENT_METHODS else frozenset()


def backoff_delay(attempt, base=BACKOFF_BASE):
    """Seconds to wait after failed attempt ``attempt`` (0-based): exponential, capped, with jitter so clients spread out."""
    return min(BACKOFF_CAP, base * (2 ** attempt)) * random.uniform(0.5, 1.0)


def after_retries(attempt):
    """The suffix of an error message that says how many retries came before it."""
    return " (after %d retries)" % attempt if attempt else ""
