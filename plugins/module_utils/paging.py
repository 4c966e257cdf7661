# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EM's query service on top of EmClient: what to ask for (QuerySpec), one page, and stable paging (QueryIterator).

EM has no cursor; docs/architecture.md ("Stable paging") says how a snapshot pin taken from the first
answer, deduplication and bounded, checked passes make the result exact anyway in one round trip per page.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import gc
import json
import math
import re
import time
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


# Pages followed beyond what the first answer announced: this many, or a tenth more, whichever is larger.
GROWTH_MARGIN_PAGES = 2
# Without PagingInfo nothing announces an end: a walk "until a short page" stops here at the latest.
MAX_UNANNOUNCED_PAGES = 10000


def growth_cap(announced):
    """The last page number a query may follow when EM announced `announced` pages in its first answer."""
    return announced + max(GROWTH_MARGIN_PAGES, math.ceil(announced / 10.0))


def newest(items, field):
    """The largest value of field among raw items, exactly as EM wrote it (ISO 8601 UTC strings sort as times); None if none."""
    values = [str(value) for value in (key_lookup(item, field) for item in items) if value]
    return max(values, key=_time_key) if values else None


def _time_key(text):
    # Fractions vary in length (".05Z", ".787Z"): compare the seconds first, then the fraction as digits.
    seconds, dummy, fraction = text.rstrip("Zz").partition(".")
    return seconds, fraction.ljust(9, "0")


# EM's UIDs end in a lower-case GUID: urn:veeam:CdpReplicaTaskSession:0b1e4c02-....
_GUID_TAIL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# UID prefixes numbered per query; a UID with another prefix stays text. A query has one or two.
MAX_UID_PREFIXES = 64


def record_identity(raw, prefixes):
    """What deduplicates a raw item: its UID, or (an item without one) its whole content.

    Two items are the same exactly when their UIDs are equal. A text UID that ends in a lower-case GUID becomes an int,
    its prefix's number in prefixes (a dict kept per query) above the GUID's 128 bits: less than half the memory of
    the text in the sets that remember a million UIDs. Any other text UID stays text, which no int equals; a UID of
    another type (JSON) goes in a tuple, which neither equals.
    """
    uid = record_uid(raw)
    if uid is None:
        return json.dumps(raw, sort_keys=True, default=str)
    if not isinstance(uid, str):
        return (uid,)
    if len(uid) >= 36 and _GUID_TAIL.fullmatch(uid, len(uid) - 36):
        prefix = uid[:-36]
        number = prefixes.get(prefix)
        if number is None and len(prefixes) < MAX_UID_PREFIXES:
            number = prefixes[prefix] = len(prefixes)
        if number is not None:
            return number << 128 | int(uid[-36:].replace("-", ""), 16)
    return uid


def local_order(items, field, descending):
    """Items of a newest-first page sorted on the controller by a raw field, as EM sorts: a stable sort over creation
    order, empty values first when ascending (as SQL Server orders NULLs)."""
    def key(item):
        value = key_lookup(item, field)
        if field.lower() == "id" and value is None:
            value = record_uid(item)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (value is not None, value, "")
        # EM's database compares text without regard to case (as the simulator does).
        text = str(value) if value is not None else ""
        return (value is not None, text.casefold(), text)
    return sorted(items[::-1], key=key, reverse=descending)


class QueryIterator:
    """Iterates over the records of a query, page by page, in the requested order; docs/architecture.md says how.

    The first request is a real page: a query whose answer fits on one page costs exactly one request. It is
    sorted newest first on the type's creation-time field when the type has one, which gives the snapshot pin.
    Later pages are pinned, fetched concurrently (bounded look-ahead) and deduplicated; a pass whose answers do
    not fit together (short or repeated pages, a changing page count) is repeated, and IncompleteResultError
    ends a result that keeps moving. Pages beyond what the first answer announced are followed only up to
    growth_cap(); the connection's query_timeout bounds the whole query. After iterating: ``total`` (records
    returned, None when stopped early), ``announced_pages``, ``pin``, ``passes``. Call close() when stopping early.
    """

    def __init__(self, client, spec):
        self.client = client
        self.spec = spec
        self.total = None
        self.announced_pages = None
        self.pin = None
        self.passes = 0
        self.yielded = 0
        self.pages_read = 0
        self._seen = set()
        # What this pass has seen: a page that adds nothing to it repeats an earlier page. The first pass sees what
        # _seen holds, so it shares that set; later passes start their own.
        self._pass_seen = self._seen
        self._uid_prefixes = {}
        timeout = getattr(client.config, "query_timeout", None)
        self._deadline = time.monotonic() + timeout if timeout else None
        # No order asked for: oldest first on the pin field, a deterministic stand-in for EM's undocumented default order.
        self._sort = {"sort_field": spec.pin_field, "sort_desc": False} if spec.pin_field and spec.sort_field is None else {}
        self._role = self._first_page_role()
        self._generator = self._run()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._generator)

    def close(self):
        self._generator.close()

    def _first_page_role(self):
        """What the first answer (newest first when the type has a pin field) is in the requested order:
        'page1' (its first page), 'tail' (ascending creation time: its last records, reversed) or 'pin' (another order)."""
        spec = self.spec
        if not spec.pin_field:
            return "page1"
        field = self._sort.get("sort_field", spec.sort_field)
        if field.lower() != spec.pin_field.lower():
            return "pin"
        return "page1" if self._sort.get("sort_desc", spec.sort_desc) else "tail"

    def _pinned_filter(self):
        expression = self.spec.filter_expression
        terms = ["(%s)" % expression if "," in expression else expression]
        if self.pin is not None:
            terms.append("%s<=%s" % (self.spec.pin_field, quote_literal(self.pin)))
        return all_of(terms)

    def _fetch(self, filter_expression, page_no, **overrides):
        self._check_deadline()
        page = fetch_page(self.client, self.spec, filter_expression, page_no, **overrides)
        self.pages_read += 1
        return page

    def _check_deadline(self):
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise IncompleteResultError(
                "The %s query did not finish within query_timeout (%d s): %d pages and %d records read so far. No partial "
                "result is returned; raise query_timeout or narrow the query." %
                (self.spec.query_type, self.client.config.query_timeout, self.pages_read, self.yielded), received=self.yielded)

    def _run(self):
        spec = self.spec
        if spec.pin_field:
            first = self._fetch(spec.filter_expression, 1, sort_field=spec.pin_field, sort_desc=True)
            self.pin = newest(first.items, spec.pin_field)
        else:
            first = self._fetch(spec.filter_expression, 1)
        self.announced_pages = first.pages_count
        if self._one_page(first):
            self.passes = 1
            # Known before the first record leaves, so a caller that stops early (max_records) still learns it.
            self.total = len({self._identity(raw) for raw in first.items})
            yield from self._new_records(self._in_requested_order(first.items))
            return
        filter_expression = self._pinned_filter()
        attempts = self.client.config.retries + 1
        while True:
            self.passes += 1
            if self.passes > 1:
                self._pass_seen = set()
            problems = []
            yield from self._one_pass(filter_expression, first, problems)
            if not problems:
                self.total = self.yielded
                return
            if self.passes >= attempts:
                raise self._incomplete(problems)
            self.client.log("paging the %s query: %s; fetching the pages again" % (spec.query_type, problems[0]))

    def _one_page(self, first):
        """Whether the first answer is the whole result: EM's PagesCount says so (0 or 1), or without one, a short page."""
        if first.pages_count is not None:
            return first.pages_count <= 1
        return len(first.items) < self.spec.page_size

    def _in_requested_order(self, items):
        if self._role == "tail":
            return items[::-1]
        if self._role == "pin":
            return local_order(items, self.spec.sort_field, self.spec.sort_desc)
        return items

    def _one_pass(self, filter_expression, first, problems):
        """Every page once; notes in problems what makes the pass's answers not fit together."""
        announced = self.announced_pages
        start = 1
        if self._role == "page1" and self.passes == 1:
            yield from self._new_records(first.items)
            start = 2
        # In the 'tail' role the first answer holds the last page's records; the pages before it are read here.
        offset = 1 if self._role == "tail" else 0
        last = None if announced is None else max(start, announced - offset)
        yield from self._pages(filter_expression, start, last, offset, problems)
        if self._role == "tail":
            yield from self._new_records(first.items[::-1])
        elif self._role == "pin" and not {self._identity(raw) for raw in first.items} <= self._seen:
            problems.append("records of the first answer were missing from the pages")

    def _pages(self, filter_expression, page_no, last, offset, problems):
        """Pages page_no..last (last None: walk until a short page), fetched ahead by worker threads."""
        client = self.client
        walk = last is None
        last = page_no if walk else last
        workers = max(1, client.config.workers)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers) if workers > 1 and not walk and last > page_no else None
        pending = {}
        next_page = page_no
        try:
            while page_no <= last:
                # Threads only fetch; pages are decoded here, one at a time, so the look-ahead holds compact bodies.
                while pool and next_page <= last and len(pending) < workers * 2:
                    pending[next_page] = pool.submit(fetch_body, client, self.spec, filter_expression, next_page, None, **self._sort)
                    next_page += 1
                if pool:
                    self._check_deadline()
                    page = decode_page(self.spec, page_no, pending.pop(page_no).result())
                    self.pages_read += 1
                else:
                    page = self._fetch(filter_expression, page_no, **self._sort)
                before = len(self._pass_seen)
                yield from self._new_records(page.items)
                last = self._next_last(page, page_no, last, offset, walk, len(self._pass_seen) > before, problems)
                page_no += 1
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)

    def _next_last(self, page, page_no, last, offset, walk, brought_new, problems):
        """The last page to read after this one, from what this page says; notes what does not fit."""
        full = len(page.items) >= self.spec.page_size
        if page.items and not brought_new:
            problems.append("page %d held only records of earlier pages" % page_no)
            if walk or page.pages_count is None:
                return page_no  # nothing announces an end and nothing new came: stop
        if walk:
            return self._capped(page_no + 1 if full else page_no, page_no)
        reported = page.pages_count
        if reported is None:
            return self._capped(last + 1, page_no) if full and page_no == last else last
        if reported - offset > last:
            return self._capped(reported - offset, page_no)
        if reported - offset < last:
            problems.append("EM's page count changed from %s to %d while paging" % (self.announced_pages, reported))
        if page_no < last and not full:
            problems.append("page %d held %d records, fewer than a page, before the last page" % (page_no, len(page.items)))
        elif page_no == last and not page.items and page_no > 1:
            problems.append("page %d, which EM announced, was empty" % page_no)
        return max(page_no, min(last, reported - offset))

    def _capped(self, wanted, page_no):
        cap = growth_cap(self.announced_pages) if self.announced_pages is not None else MAX_UNANNOUNCED_PAGES
        if wanted > cap:
            if self.announced_pages is None:
                what = "EM sent no PagingInfo and full pages kept coming"
            else:
                what = "EM announced %d pages in its first answer, then kept announcing more" % self.announced_pages
            raise IncompleteResultError(
                "Stopped the %s query at page %d: %s (%d records so far; at most %d pages are followed). EM's paging is "
                "broken or the result keeps growing. No partial result is returned; narrow the query or check EM." %
                (self.spec.query_type, page_no, what, self.yielded, cap), page=page_no, received=self.yielded)
        return wanted

    def _incomplete(self, problems):
        if self.yielded == 0:
            other = "xml" if self.spec.response_format == "json" else "json"
            why = ("no page held items this collection could read (if EM answers %s in a shape it does not know, "
                   "response_format: %s reads EM's other representation)" % (self.spec.response_format.upper(), other))
        else:
            why = "; ".join(sorted(set(problems))[:3])
        return IncompleteResultError(
            "EM's answers to the %s query did not fit together after %d passes (%d pages announced first, %d unique records "
            "read): %s. No partial result is returned; run the task again." %
            (self.spec.query_type, self.passes, self.announced_pages or 0, self.yielded, why),
            expected=self.announced_pages, received=self.yielded)

    def _identity(self, raw):
        return record_identity(raw, self._uid_prefixes)

    def _new_records(self, items):
        normalise = self.spec.normalise
        seen = self._seen
        pass_seen = self._pass_seen
        prefixes = self._uid_prefixes
        for raw in items:
            identity = record_identity(raw, prefixes)
            if identity in seen:
                pass_seen.add(identity)
                continue
            seen.add(identity)
            pass_seen.add(identity)
            self.yielded += 1
            yield normalise(raw) if normalise else raw
