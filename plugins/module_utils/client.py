# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EM REST client shared by every module, lookup and the audit.

One requests.Session with keep-alive and a connection pool sized to the paging workers.
Logon is lazy; logoff happens on close() for sessions this client opened itself.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import http.cookiejar
import math
import random
import re
import threading
import time
import warnings
from urllib.parse import quote, urlsplit

from .decode import decode_document, decode_query_page, error_message
from .errors import (
    ApiError,
    AuthError,
    CommunicationError,
    DecodeError,
    IncompleteResultError,
    SessionExpiredError,
    TLSError,
)
from .filters import all_of, quote as quote_literal
from .records import record_uid

try:
    import requests
    from requests.adapters import HTTPAdapter
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # reported by the modules via missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

SESSION_HEADER = "X-RestSvcSessionId"
MEDIA_TYPES = {"xml": "application/xml", "json": "application/json"}
RETRYABLE_STATUS = frozenset((500, 502, 503, 504))
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
MASK = "********"


class QuerySpec:
    """What to ask EM's query service for. Built and validated by query.py."""

    def __init__(self, query_type, filter_expression="", sort_field=None, sort_desc=False, page_size=1000, entity_format="Entities",
                 response_format="json", normalise=None, plural=None, pin_field=None):
        self.query_type = query_type
        self.filter_expression = filter_expression or ""
        self.sort_field = sort_field
        self.sort_desc = sort_desc
        self.page_size = page_size
        self.entity_format = entity_format
        self.response_format = response_format
        self.normalise = normalise
        self.plural = plural
        # A creation-time field used to pin the result set to a snapshot while paging.
        self.pin_field = pin_field


class _RejectAllCookies(http.cookiejar.DefaultCookiePolicy):
    """EM sets the session cookie too, and a cookie beats the header: never keep one."""

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False


def build_base_url(host, port):
    """https://host:port from a host name or a URL; returns (base_url, is_plain_http)."""
    host = host.strip()
    if "://" in host:
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("host %r is not an http(s) URL" % host)
        try:
            url_port = parts.port
        except ValueError:
            raise ValueError("host %r has an invalid port" % host)
        hostname = parts.hostname
        path = parts.path.rstrip("/")
        if path.lower().endswith("/api"):
            path = path[:-4]
        scheme = parts.scheme
        port = url_port or port
    else:
        hostname = host.strip("[]")
        path = ""
        scheme = "https"
        if re.search(r"[/?#@\s]", hostname):
            raise ValueError("host %r is neither a host name nor a URL" % host)
    if ":" in hostname:
        hostname = "[%s]" % hostname
    return "%s://%s:%d%s" % (scheme, hostname, int(port), path), scheme == "http"


class EmClient:
    """Talks to one EM. Use as a context manager so sessions it opened are always logged off."""

    def __init__(self, config, warn=None, log=None, register_secret=None, backoff_base=BACKOFF_BASE):
        if not HAS_REQUESTS:
            raise CommunicationError("the requests Python library is required: %s" % REQUESTS_IMPORT_ERROR)
        self.config = config
        self._warn = warn or (lambda message: None)
        self._log = log or (lambda message: None)
        self._register_secret = register_secret or (lambda value: None)
        self._backoff_base = backoff_base
        self._secrets = set()
        self._add_secret(config.password)
        self._add_secret(config.session_id)
        # EM tokens are base64(SessionId): the GUID opens the same session, so it is as secret as the token.
        self._add_secret(_guid_from_token(config.session_id) if config.session_id else None)
        try:
            self.base_url, plain_http = build_base_url(config.host, config.port)
        except ValueError as exc:
            from .errors import InvalidInputError
            raise InvalidInputError("host", str(exc), "Use a host name (em.example.com) or a URL (https://em.example.com:9398).")
        if plain_http:
            self._warn("host uses plain http://: the password and session id travel unencrypted. Use this only against a test simulator.")
        self.session = requests.Session()
        self.session.trust_env = False  # no .netrc credentials or environment proxies sent to EM by surprise
        self.session.cookies.set_policy(_RejectAllCookies())
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(config.workers, 1) + 1, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        if config.ca_path:
            self.session.verify = config.ca_path
        elif not config.validate_certs:
            self.session.verify = False
            self._warn("TLS certificate verification is disabled for EM at %s (validate_certs: false). "
                       "Set ca_path to EM's CA certificate instead." % self.base_url)
            # Silence urllib3's per-request warning for this EM only: the one warning above says it.
            warnings.filterwarnings("ignore", message=r"Unverified HTTPS request is being made to host '%s'" % re.escape(urlsplit(self.base_url).hostname))
        self._token = config.session_id
        self._owns_session = False
        self._keep_session = False
        self._logon_guid = None
        self._logoff_href = None
        self._generation = 0
        self._lock = threading.Lock()
        self.user_name = None
        self.api_version = config.api_version
        self.stats = {"requests": 0, "query_requests": 0, "retries": 0, "relogons": 0, "logons": 0, "logoffs": 0}

    # -- secrets ---------------------------------------------------------------------------------

    def _add_secret(self, value):
        if value:
            self._secrets.add(str(value))
            self._register_secret(str(value))

    def scrub(self, text):
        """Mask every known secret in a text that may reach the user."""
        text = str(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, MASK)
        return text

    # -- context management ----------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.close()
        return False

    def close(self):
        try:
            if self._owns_session and self._token and not self._keep_session:
                self.logoff()
        finally:
            self.session.close()

    def adopt_session(self):
        """Treat the caller's session_id as this client's own, so close() logs it off (session module, state=absent)."""
        self._owns_session = bool(self._token)
        self._keep_session = False

    def release_on_close(self):
        """Keep the session this client opens alive after close() (session module, state=present)."""
        self._keep_session = True

    # -- logon / logoff --------------------------------------------------------------------------

    @property
    def session_id(self):
        return self._token

    @property
    def owns_session(self):
        return self._owns_session

    def ensure_session(self):
        if not self._token:
            self.logon()
        return self._token

    def logon(self):
        config = self.config
        path = "/api/sessionMngr/"
        url = self.base_url + path + "?v=" + quote(str(config.api_version), safe="")
        auth = (config.username.encode("utf-8"), config.password.encode("utf-8"))
        headers = {"Accept": MEDIA_TYPES["xml"], "Content-Length": "0"}
        # Retry only when no request reached EM (connection refused, 503): a retried logon must not leak a session.
        response = self._send("POST", url, path, headers=headers, auth=auth, retry_on=(503,), retry_timeouts=False)
        self.stats["logons"] += 1
        if response.status_code == 201:
            token = response.headers.get(SESSION_HEADER)
            if not token:
                raise ApiError("EM answered the logon with 201 but without an %s header." % SESSION_HEADER, status=201, method="POST", path=path)
            self._token = token
            self._owns_session = True
            self._generation += 1
            self._add_secret(token)
            self._read_logon_body(response)
            self._log("logged on to %s as %s" % (self.base_url, self.user_name or config.username))
            return token
        raise self._logon_error(response, path)

    def _read_logon_body(self, response):
        guid = None
        try:
            dummy, raw = decode_document(response.content, response.headers.get("Content-Type"))
        except DecodeError:
            raw = {}
        lowered = {str(key).lower(): value for key, value in raw.items()}
        guid = lowered.get("sessionid")
        self.user_name = lowered.get("username") or self.config.username
        for link in lowered.get("links") or []:
            if isinstance(link, dict) and str(link.get("Rel", link.get("rel", ""))).lower() == "delete":
                self._logoff_href = link.get("Href", link.get("href"))
        if not guid:
            guid = _guid_from_token(self._token)
        self._logon_guid = str(guid) if guid else None
        self._add_secret(self._logon_guid)

    def _logon_error(self, response, path):
        status = response.status_code
        em_message = self.scrub(error_message(response.content, response.headers.get("Content-Type")) or "")
        user = self.config.username
        if status == 401:
            return AuthError(
                "EM rejected the user name or password for user '%s' (HTTP 401%s). Check the password; for a domain account try both "
                "DOMAIN\\user and user@domain, and make sure the account has an EM role (Portal Administrator, Portal User or Restore Operator)."
                % (user, ": " + em_message if em_message else ""), status=401, em_message=em_message or None, method="POST", path=path)
        if status == 403:
            return AuthError("EM refused the logon for user '%s' (HTTP 403%s): the account needs an EM role (Portal Administrator, Portal User or "
                             "Restore Operator)." % (user, ": " + em_message if em_message else ""), status=403, em_message=em_message or None,
                             method="POST", path=path)
        if status == 404:
            return ApiError("EM's logon endpoint %s was not found at %s (HTTP 404). Enterprise Manager's REST API listens on port 9398; "
                            "port 9419 is the Backup & Replication REST API, which has no CDP task sessions." % (path, self.base_url),
                            status=404, em_message=em_message or None, method="POST", path=path)
        if status == 400:
            return ApiError("EM rejected the logon (HTTP 400%s). If api_version is set (now '%s'), use latest or a version EM lists at GET /api/."
                            % (": " + em_message if em_message else "", self.config.api_version), status=400, em_message=em_message or None,
                            method="POST", path=path)
        return ApiError("EM logon failed with HTTP %d%s." % (status, ": " + em_message if em_message else ""), status=status,
                        em_message=em_message or None, method="POST", path=path)

    def logoff(self):
        """End the EM session this client holds. Failures become a warning: results already read stay valid."""
        token = self._token
        if not token:
            return
        guid = self._logon_guid or _guid_from_token(token)
        path = "/api/logonSessions/%s" % MASK
        if guid:
            url = self.base_url + "/api/logonSessions/" + quote(str(guid), safe="")
        elif self._logoff_href:
            # EM's own link may name another host (e.g. localhost); keep ours and take only its path.
            url = self.base_url + urlsplit(self._logoff_href).path
        else:
            self._warn("Could not log off from EM: its logon answer named no session; EM ends it after 15 minutes idle.")
            self._token = None
            self._owns_session = False
            return
        try:
            response = self._send("DELETE", url, path, headers={SESSION_HEADER: token, "Accept": MEDIA_TYPES["xml"]}, retry_on=RETRYABLE_STATUS)
        except (CommunicationError, ApiError) as exc:
            self._warn("Could not log off from EM: %s. EM ends the session after 15 minutes idle." % self.scrub(exc.message))
            return
        finally:
            self._token = None
            self._owns_session = False
        self.stats["logoffs"] += 1
        if response.status_code not in (200, 204, 401, 404):
            self._warn("EM answered the logoff with HTTP %d; it ends the session after 15 minutes idle." % response.status_code)

    # -- HTTP ------------------------------------------------------------------------------------

    def _send(self, method, url, path, headers=None, params=None, auth=None, retry_on=RETRYABLE_STATUS, retry_timeouts=True, page=None):
        """One HTTP exchange with bounded exponential backoff and jitter. Never returns a retryable failure."""
        attempts = self.config.retries + 1
        where = "%s %s%s" % (method, path, " (page %d)" % page if page else "")
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                self.stats["requests"] += 1
                response = self.session.request(method, url, headers=headers, params=params, auth=auth, timeout=self.config.timeout,
                                                allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise TLSError(
                    "TLS verification failed for EM at %s: %s. Set ca_path to the CA certificate that signed EM's certificate "
                    "(EM generates a self-signed one at setup), or set validate_certs: false to skip verification (not recommended)."
                    % (self.base_url, _short(self.scrub(exc))), method=method, path=path)
            except requests.exceptions.Timeout as exc:
                if last or not retry_timeouts:
                    raise CommunicationError("%s to EM at %s timed out after %s s%s. Raise timeout, or check EM's load."
                                             % (where, self.base_url, self.config.timeout, _after(attempt)), method=method, path=path,
                                             timeout=self.config.timeout)
                self._pause(attempt, where, type(exc).__name__)
                continue
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                if last:
                    raise CommunicationError("%s to EM at %s failed: %s%s. Check host and port (EM listens on 9398)."
                                             % (where, self.base_url, _short(self.scrub(exc)), _after(attempt)), method=method, path=path)
                self._pause(attempt, where, "connection error")
                continue
            except requests.exceptions.RequestException as exc:
                raise CommunicationError("%s to EM at %s failed: %s" % (where, self.base_url, _short(self.scrub(exc))), method=method, path=path)
            if response.status_code in retry_on:
                if not last:
                    self._pause(attempt, where, "HTTP %d" % response.status_code)
                    continue
                em_message = self.scrub(error_message(response.content, response.headers.get("Content-Type")) or "")
                raise CommunicationError("%s to EM at %s kept failing with HTTP %d%s%s. EM (or a proxy in front of it) is overloaded or "
                                         "restarting; try again later or raise retries."
                                         % (where, self.base_url, response.status_code, ": " + em_message if em_message else "", _after(attempt)),
                                         method=method, path=path)
            return response
        raise CommunicationError("%s failed after %d attempts." % (where, attempts), method=method, path=path)  # pragma: no cover

    def _pause(self, attempt, where, why):
        self.stats["retries"] += 1
        delay = min(BACKOFF_CAP, self._backoff_base * (2 ** attempt)) * random.uniform(0.5, 1.0)
        self._log("%s: %s, retrying in %.2f s" % (where, why, delay))
        time.sleep(delay)

    def get(self, path, params, page=None, accept="xml"):
        """An authenticated, idempotent GET. Logs on again once if a session this client opened expires."""
        url = self.base_url + path
        relogged = False
        while True:
            self.ensure_session()
            generation = self._generation
            headers = {SESSION_HEADER: self._token, "Accept": MEDIA_TYPES[accept]}
            response = self._send("GET", url, path, headers=headers, params=params, page=page)
            if response.status_code != 401:
                return response
            if not self._owns_session:
                raise SessionExpiredError(
                    "EM rejected the session id given in session_id (HTTP 401): it has expired (EM ends a session after 15 minutes "
                    "without requests) or is invalid. Log on again with the veeam.enterprise_manager.session module and pass the new "
                    "session_id, or leave session_id unset so the task logs on itself.", status=401, method="GET", path=path)
            if relogged:
                raise AuthError("EM answered HTTP 401 again right after a new logon; the account may have lost its EM role.",
                                status=401, method="GET", path=path)
            with self._lock:
                if self._generation == generation:
                    # Token and ownership stay as they are until logon() replaces them: paging threads that hit the
                    # same 401 meanwhile must wait here, not see "no session" (second logon) or "not ours" (SessionExpiredError).
                    self._log("EM session expired%s; logging on again" % (" at page %d" % page if page else ""))
                    self.stats["relogons"] += 1
                    self.logon()
            relogged = True

    def check(self, response, path, page=None):
        if response.status_code == 200:
            return response
        em_message = self.scrub(error_message(response.content, response.headers.get("Content-Type")) or "")
        where = "GET %s%s" % (path, " page %d" % page if page else "")
        hint = ""
        if response.status_code == 403:
            hint = " The account's EM role may not cover this data."
        elif response.status_code == 400:
            hint = " Check the filter, sort field and query type."
        raise ApiError("EM answered %s with HTTP %d%s.%s" % (where, response.status_code, ": " + em_message if em_message else "", hint),
                       status=response.status_code, em_message=em_message or None, method="GET", path=path)

    # -- query service ---------------------------------------------------------------------------

    def query_params(self, spec, filter_expression, page, page_size, sort_field=None, sort_desc=None, entity_format=None):
        # Built by hand so the filter is percent-encoded exactly once ('+' as %2B, space as %20).
        params = [("type", spec.query_type), ("format", entity_format or spec.entity_format)]
        if filter_expression:
            params.append(("filter", filter_expression))
        field = sort_field if sort_field is not None else spec.sort_field
        if field:
            params.append(("sortDesc" if (spec.sort_desc if sort_desc is None else sort_desc) else "sortAsc", field))
        params.append(("pageSize", str(page_size)))
        params.append(("page", str(page)))
        return "&".join("%s=%s" % (name, quote(str(value), safe="")) for name, value in params)

    def fetch_body(self, spec, filter_expression, page, page_size=None, **overrides):
        """One query page as EM sent it: (body, content type). Safe to call from paging threads."""
        path = "/api/query"
        params = self.query_params(spec, filter_expression, page, page_size or spec.page_size, **overrides)
        response = self.check(self.get(path, params, page=page, accept=spec.response_format), path, page)
        self.stats["query_requests"] += 1
        return response.content, response.headers.get("Content-Type")

    @staticmethod
    def decode_page(spec, page, fetched):
        body, content_type = fetched
        try:
            return decode_query_page(body, content_type, spec.plural)
        except DecodeError as exc:
            raise DecodeError("page %d of the %s query: %s" % (page, spec.query_type, exc.message), path="/api/query", page=page)

    def fetch_page(self, spec, filter_expression, page, page_size=None, **overrides):
        return self.decode_page(spec, page, self.fetch_body(spec, filter_expression, page, page_size, **overrides))

    def iter_query(self, spec):
        return QueryIterator(self, spec)


class QueryIterator:
    """Iterates over the normalised records of a query, page by page, in EM's order.

    Pages after the first are fetched concurrently (bounded look-ahead); records are
    deduplicated by UID. When the iteration completes, the number of unique records is checked
    against the total EM reported up front; a shortfall triggers another pass, and
    IncompleteResultError if the result set keeps moving.
    """

    def __init__(self, client, spec):
        self.client = client
        self.spec = spec
        self.total = None
        self.pin = None
        self.passes = 0
        self.yielded = 0
        self.completed = False
        self._seen = set()
        self._generator = self._run()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._generator)

    def close(self):
        self._generator.close()

    @property
    def filter_sent(self):
        return self._pinned_filter()

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
            page = self.client.fetch_page(spec, spec.filter_expression, 1, page_size=1, sort_field=spec.pin_field, sort_desc=True,
                                          entity_format="Entities")
            if page.items:
                pin = _raw_value(page.items[0], spec.pin_field)
                if pin:
                    self.pin = str(pin)
        else:
            page = self.client.fetch_page(spec, spec.filter_expression, 1, page_size=1, entity_format="References")
        self.total = page.pages_count
        return page

    def _run(self):
        probe = self._probe()
        if probe.pages_count == 0 or (probe.pages_count is None and not probe.items):
            self.completed = True
            return
        filter_expression = self._pinned_filter()
        attempts = self.client.config.retries + 1
        while True:
            self.passes += 1
            yield from self._one_pass(filter_expression)
            # Items without a UID cannot be deduplicated, so only their first pass counts and it is never repeated.
            received = len(self._seen) if self._seen else self.yielded
            if self.total is None or received >= self.total:
                break
            if self.passes >= attempts or (self.yielded and not self._seen):
                if received == 0:
                    why = ("no page held items this collection could read (if EM answers %s in a shape it does not know, "
                           "response_format: %s reads EM's other representation)" % (
                               self.spec.response_format.upper(), "xml" if self.spec.response_format == "json" else "json"))
                else:
                    why = "the result set kept changing (or EM repeated pages)"
                raise IncompleteResultError(
                    "EM reported %d records for the %s query but paging returned %d unique ones after %d passes: %s. "
                    "No partial result is returned; run the task again." %
                    (self.total, self.spec.query_type, received, self.passes, why), expected=self.total, received=received)
            self.client._log("paging returned %d of %d records; fetching the pages again" % (received, self.total))
        self.completed = True

    def _one_pass(self, filter_expression):
        spec = self.spec
        client = self.client
        page_size = spec.page_size
        known_pages = max(1, math.ceil(self.total / page_size)) if self.total else None
        workers = max(1, client.config.workers)
        if known_pages is None:
            # No usable total: walk pages one by one until a short page.
            page_no = 1
            while True:
                page = client.fetch_page(spec, filter_expression, page_no)
                yield from self._new_records(page)
                if len(page.items) < page_size or (page.pages_count is not None and page_no >= page.pages_count):
                    return
                page_no += 1
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
                    pending[next_page] = pool.submit(client.fetch_body, spec, filter_expression, next_page)
                    next_page += 1
                if pool:
                    page = client.decode_page(spec, page_no, pending.pop(page_no).result())
                else:
                    page = client.fetch_page(spec, filter_expression, page_no)
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


def _raw_value(raw, name):
    lowered = name.lower()
    for key, value in raw.items():
        if str(key).lower() == lowered:
            return value
    return None


def _guid_from_token(token):
    try:
        text = base64.b64decode(token, validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return text if re.match(r"^[0-9a-fA-F-]{32,36}$", text) else None


def _short(exc):
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."


def _after(attempt):
    return " (after %d retries)" % attempt if attempt else ""
