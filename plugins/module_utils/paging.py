# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EM's query service on top of EmClient: what to ask for (QuerySpec), one page, and stable paging (QueryIterator).

EM has no cursor; docs/architecture.md ("Stable paging") says how a snapshot pin and a count check
make the result exact anyway.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import gc
import math
from typing import Callable, Optional
from urllib.parse import quote

from .decode import decode_query_page, key_lookup
from .errors import DecodeError, IncompleteResultError
from .filters import all_of, quote as quote_literal
from .options import DEFAULT_PAGE_SIZE
from .records import record_uid

QUERY_PATH = "/api/query"


@dataclasses.dataclass
class QuerySpec:
    """What to ask EM's query service for. em_types.query_spec() fills in what EM's type implies."""

    query_type: str
    filter_expression: str = ""
    sort_field: Optional[str] = None
    sort_desc: bool = False
    page_size: int = DEFAULT_PAGE_SIZE
    entity_format: str = "Entities"
    response_format: str = "json"
    # raw item -> record; None yields raw items.
    normalise: Optional[Callable] = None
    # The JSON list key of the type's items.
    plural: Optional[str] = None
    # A creation-time field used to pin the result set to a snapshot while paging.
    pin_field: Optional[str] = None

    def __post_init__(self):
        self.filter_expression = self.filter_expression or ""


@contextlib.contextmanager
def gc_paused():
    """Disable automatic garbage collection for the block; a collector already disabled by the caller stays so.

    A large result is an acyclic tree that only grows while pages arrive; each collection of the oldest
    generation would walk all of it again (figures in docs/performance.md). Reference counting still frees
    whatever is dropped meanwhile, and collection resumes when the block ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def query_params(spec, filter_expression, page, page_size, sort_field=None, sort_desc=None, entity_format=None):
    """The query string of one page; built by hand so the filter is percent-encoded exactly once ('+' as %2B, space as %20)."""
    params = [("type", spec.query_type), ("format", entity_format or spec.entity_format)]
    if filter_expression:
        params.append(("filter", filter_expression))
    field = sort_field if sort_field is not None else spec.sort_field
    if field:
        params.append(("sortDesc" if (spec.sort_desc if sort_desc is None else sort_desc) else "sortAsc", field))
    params.append(("pageSize", str(page_size)))
    params.append(("page", str(page)))
    return "&".join("%s=%s" % (name, quote(str(value), safe="")) for name, value in params)


def fetch_body(client, spec, filter_expression, page, page_size=None, **overrides):
    """One query page as EM sent it: (body, content type). Safe to call from paging threads."""
    params = query_params(spec, filter_expression, page, page_size or spec.page_size, **overrides)
    response = client.check(client.get(QUERY_PATH, params, page=page, accept=spec.response_format), QUERY_PATH, page)
    client.stats["query_requests"] += 1
    return response.content, response.headers.get("Content-Type")


def decode_page(spec, page, fetched):
    """decode.Page of a fetched body; a DecodeError names the page and the query type."""
    body, content_type = fetched
    try:
        return decode_query_page(body, content_type, spec.plural)
    except DecodeError as exc:
        raise DecodeError("page %d of the %s query: %s" % (page, spec.query_type, exc.message), path=QUERY_PATH, page=page)


def fetch_page(client, spec, filter_expression, page, page_size=None, **overrides):
    return decode_page(spec, page, fetch_body(client, spec, filter_expression, page, page_size, **overrides))


class QueryIterator:
    """Iterates over the records of a query, page by page, in EM's order.

    Pages after the first are fetched concurrently (bounded look-ahead); records are deduplicated
    by UID. When the iteration completes, the number of unique records is checked against the total
    EM reported up front; a shortfall triggers another pass, and IncompleteResultError if the result
    set keeps moving. After iterating: ``total`` (EM's count), ``pin`` (the snapshot's creation time),
    ``passes``. Call close() when stopping early.
    """

    def __init__(self, client, spec):
        self.client = client
        self.spec = spec
        self.total = None
        self.pin = None
        self.passes = 0
        self.yielded = 0
        self._seen = set()
        self._generator = self._run()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._generator)

    def close(self):
        self._generator.close()

    def _pinned_filter(self):
        expression = self.spec.filter_expression
        terms = ["(%s)" % expression if "," in expression else expression]
        if self.pin is not None:
            terms.append("%s<=%s" % (self.spec.pin_field, quote_literal(self.pin)))
        return all_of(terms)

    def _probe(self):
        """Learn the exact total (pageSize=1 makes PagesCount the record count) and the snapshot pin."""
        spec = self.spec
        if spec.pin_field:
            page = fetch_page(self.client, spec, spec.filter_expression, 1, page_size=1, sort_field=spec.pin_field, sort_desc=True,
                              entity_format="Entities")
            if page.items:
                pin = key_lookup(page.items[0], spec.pin_field)
                if pin:
                    self.pin = str(pin)
        else:
            page = fetch_page(self.client, spec, spec.filter_expression, 1, page_size=1, entity_format="References")
        self.total = page.pages_count
        return page

    def _run(self):
        probe = self._probe()
        if probe.pages_count == 0 or (probe.pages_count is None and not probe.items):
            return
        filter_expression = self._pinned_filter()
        attempts = self.client.config.retries + 1
        while True:
            self.passes += 1
            yield from self._one_pass(filter_expression)
            # Items without a UID cannot be deduplicated, so only their first pass counts and it is never repeated.
            received = len(self._seen) if self._seen else self.yielded
            if self.total is None or received >= self.total:
                return
            if self.passes >= attempts or (self.yielded and not self._seen):
                raise self._incomplete(received)
            self.client.log("paging returned %d of %d records; fetching the pages again" % (received, self.total))

    def _incomplete(self, received):
        if received == 0:
            other = "xml" if self.spec.response_format == "json" else "json"
            why = ("no page held items this collection could read (if EM answers %s in a shape it does not know, "
                   "response_format: %s reads EM's other representation)" % (self.spec.response_format.upper(), other))
        else:
            why = "the result set kept changing (or EM repeated pages)"
        return IncompleteResultError(
            "EM reported %d records for the %s query but paging returned %d unique ones after %d passes: %s. "
            "No partial result is returned; run the task again." %
            (self.total, self.spec.query_type, received, self.passes, why), expected=self.total, received=received)

    def _one_pass(self, filter_expression):
        spec = self.spec
        client = self.client
        page_size = spec.page_size
        known_pages = max(1, math.ceil(self.total / page_size)) if self.total else None
        if known_pages is None:
            # No usable total: walk pages one by one until a short page.
            page_no = 1
            while True:
                page = fetch_page(client, spec, filter_expression, page_no)
                yield from self._new_records(page)
                if len(page.items) < page_size or (page.pages_count is not None and page_no >= page.pages_count):
                    return
                page_no += 1
        workers = max(1, client.config.workers)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers) if workers > 1 and known_pages > 1 else None
        try:
            pending = {}
            next_page = 1
            page_no = 1
            last_page = known_pages
            while page_no <= last_page:
                # Threads only fetch; pages are decoded here, one at a time, so the look-ahead holds compact bodies,
                # not decoded pages (decoding is CPU under the GIL either way).
                while pool and next_page <= last_page and len(pending) < workers * 2:
                    pending[next_page] = pool.submit(fetch_body, client, spec, filter_expression, next_page)
                    next_page += 1
                if pool:
                    page = decode_page(spec, page_no, pending.pop(page_no).result())
                else:
                    page = fetch_page(client, spec, filter_expression, page_no)
                full = len(page.items) >= page_size
                if full and page_no == last_page and page.pages_count is not None and page.pages_count > last_page:
                    # The snapshot grew (late-arriving sessions): follow the new tail.
                    last_page = page.pages_count
                yield from self._new_records(page)
                if full and page_no == last_page and page.pages_count is None:
                    last_page += 1
                page_no += 1
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)

    def _new_records(self, page):
        normalise = self.spec.normalise
        seen = self._seen
        for raw in page.items:
            uid = record_uid(raw)
            if uid is not None:
                if uid in seen:
                    continue
                seen.add(uid)
            self.yielded += 1
            yield normalise(raw) if normalise else raw
