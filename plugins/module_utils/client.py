# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EM REST client (HTTP only) shared by every module, lookup and the audit.

One requests.Session with keep-alive and a connection pool sized to the paging workers.
Logon is lazy; logoff happens on close() for sessions this client owns. EM's query service
(paging) is in paging.py.
"""

from __future__ import annotations

import base64
import binascii
import enum
import http.cookiejar
import random
import re
import threading
import time
import warnings
from urllib.parse import quote, urlsplit

from .decode import decode_document, error_message, key_lookup, lower_keys
from .errors import (
    ApiError,
    AuthError,
    CommunicationError,
    DecodeError,
    InvalidInputError,
    SessionExpiredError,
    TLSError,
)

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
# What _send may retry: HTTP statuses, plus TIMEOUT (read/connect timeouts) and CONNECTION (resets, refused).
TIMEOUT = "timeout"
CONNECTION = "connection"
RETRY_IDEMPOTENT = RETRYABLE_STATUS | {TIMEOUT, CONNECTION}
# A logon is retried only when no request reached EM (connection refused, 503): a retried logon must not leak a session.
RETRY_LOGON = frozenset((503, CONNECTION))
IDEMPOTENT_METHODS = frozenset(("GET", "PUT", "DELETE"))
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
MASK = "********"


class Ownership(enum.Enum):
    """Whose EM session a client holds, which decides whether close() logs it off."""

    BORROWED = "borrowed"  # the caller's session_id: never logged off, never replaced by a new logon
    OWNED = "owned"  # opened (or adopted) by this client: logged off on close()
    HANDED_OUT = "handed_out"  # opened by this client for the caller (session module): kept open on close()


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
        self.warn = warn or (lambda message: None)
        self.log = log or (lambda message: None)
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
            raise InvalidInputError("host", str(exc), "Use a host name (em.example.com) or a URL (https://em.example.com:9398).")
        if plain_http:
            self.warn("host uses plain http://: the password and session id travel unencrypted. Use this only against a test simulator.")
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
            self.warn("TLS certificate verification is disabled for EM at %s (validate_certs: false). "
                      "Set ca_path to EM's CA certificate instead." % self.base_url)
            # Silence urllib3's per-request warning for this EM only: the one warning above says it.
            warnings.filterwarnings("ignore", message=r"Unverified HTTPS request is being made to host '%s'" % re.escape(urlsplit(self.base_url).hostname))
        self._token = config.session_id
        self.ownership = Ownership.BORROWED if config.session_id else Ownership.OWNED
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
            if self.ownership is Ownership.OWNED and self._token:
                self.logoff()
        finally:
            self.session.close()

    # -- logon / logoff --------------------------------------------------------------------------

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
        response = self._send("POST", url, path, headers, RETRY_LOGON, auth=auth)
        self.stats["logons"] += 1
        if response.status_code == 201:
            token = response.headers.get(SESSION_HEADER)
            if not token:
                raise ApiError("EM answered the logon with 201 but without an %s header." % SESSION_HEADER, status=201, method="POST", path=path)
            self._token = token
            if self.ownership is Ownership.BORROWED:
                self.ownership = Ownership.OWNED
            self._generation += 1
            self._add_secret(token)
            self._read_logon_body(response)
            self.log("logged on to %s as %s" % (self.base_url, self.user_name or config.username))
            return token
        raise self._logon_error(response, path)

    def _read_logon_body(self, response):
        try:
            dummy, raw = decode_document(response.content, response.headers.get("Content-Type"))
        except DecodeError:
            raw = {}
        lowered = lower_keys(raw)
        guid = lowered.get("sessionid")
        self.user_name = lowered.get("username") or self.config.username
        for link in lowered.get("links") or []:
            if isinstance(link, dict) and str(key_lookup(link, "rel") or "").lower() == "delete":
                self._logoff_href = key_lookup(link, "href")
        if not guid:
            guid = _guid_from_token(self._token)
        self._logon_guid = str(guid) if guid else None
        self._add_secret(self._logon_guid)

    def _logon_error(self, response, path):
        status = response.status_code
        em_message = self.scrub(error_message(response.content, response.headers.get("Content-Type")) or "")
        detail = ": " + em_message if em_message else ""
        user = self.config.username
        roles = "Portal Administrator, Portal User or Restore Operator"
        messages = {
            401: "EM rejected the user name or password for user '%s' (HTTP 401%s). Check the password; for a domain account try both "
                 "DOMAIN\\user and user@domain, and make sure the account has an EM role (%s)." % (user, detail, roles),
            403: "EM refused the logon for user '%s' (HTTP 403%s): the account needs an EM role (%s)." % (user, detail, roles),
            404: "EM's logon endpoint %s was not found at %s (HTTP 404). Enterprise Manager's REST API listens on port 9398; "
                 "port 9419 is the Backup & Replication REST API, which has no CDP task sessions." % (path, self.base_url),
            400: "EM rejected the logon (HTTP 400%s). If api_version is set (now '%s'), use latest or a version EM lists at GET /api/."
                 % (detail, self.config.api_version),
        }
        error = AuthError if status in (401, 403) else ApiError
        return error(messages.get(status, "EM logon failed with HTTP %d%s." % (status, detail)), status=status, em_message=em_message or None,
                     method="POST", path=path)

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
            self.warn("Could not log off from EM: its logon answer named no session; EM ends it after 15 minutes idle.")
            self._token = None
            return
        try:
            response = self._send("DELETE", url, path, {SESSION_HEADER: token, "Accept": MEDIA_TYPES["xml"]}, RETRY_IDEMPOTENT)
        except (CommunicationError, ApiError) as exc:
            self.warn("Could not log off from EM: %s. EM ends the session after 15 minutes idle." % self.scrub(exc.message))
            return
        finally:
            self._token = None
        self.stats["logoffs"] += 1
        if response.status_code not in (200, 204, 401, 404):
            self.warn("EM answered the logoff with HTTP %d; it ends the session after 15 minutes idle." % response.status_code)

    # -- HTTP ------------------------------------------------------------------------------------

    def _send(self, method, url, path, headers, retry, params=None, data=None, auth=None, page=None):
        """One HTTP exchange, retried with bounded exponential backoff and jitter for what ``retry`` names.

        Never returns a response whose status ``retry`` names.
        """
        attempts = self.config.retries + 1
        where = "%s %s%s" % (method, path, " (page %d)" % page if page else "")
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                self.stats["requests"] += 1
                response = self.session.request(method, url, headers=headers, params=params, data=data, auth=auth,
                                                timeout=self.config.timeout, allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise TLSError(
                    "TLS verification failed for EM at %s: %s. Set ca_path to the CA certificate that signed EM's certificate "
                    "(EM generates a self-signed one at setup), or set validate_certs: false to skip verification (not recommended)."
                    % (self.base_url, _short(self.scrub(exc))), method=method, path=path)
            except requests.exceptions.Timeout as exc:
                if last or TIMEOUT not in retry:
                    raise CommunicationError("%s to EM at %s timed out after %s s%s. Raise timeout, or check EM's load."
                                             % (where, self.base_url, self.config.timeout, _after(attempt)), method=method, path=path,
                                             timeout=self.config.timeout)
                self._pause(attempt, where, type(exc).__name__)
                continue
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                if last or CONNECTION not in retry:
                    raise CommunicationError("%s to EM at %s failed: %s%s. Check host and port (EM listens on 9398)."
                                             % (where, self.base_url, _short(self.scrub(exc)), _after(attempt)), method=method, path=path)
                self._pause(attempt, where, "connection error")
                continue
            except requests.exceptions.RequestException as exc:
                raise CommunicationError("%s to EM at %s failed: %s" % (where, self.base_url, _short(self.scrub(exc))), method=method, path=path)
            if response.status_code in retry:
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
        self.log("%s: %s, retrying in %.2f s" % (where, why, delay))
        time.sleep(delay)

    def get(self, path, params, page=None, accept="xml"):
        """An authenticated, idempotent GET, unchecked (see check()). Logs on again once if a session this client owns expires."""
        return self._authenticated("GET", path, {"Accept": MEDIA_TYPES[accept]}, RETRY_IDEMPOTENT, params=params, page=page)

    def request(self, method, path, params=None, body=None, content_type=None, accept="xml", expected=(200,)):
        """Any authenticated request; returns the requests.Response once check() accepted its status.

        params: a dict or an already encoded query string. body: str (sent as UTF-8) or bytes, with
        content_type "xml", "json" or a media type. 5xx answers and timeouts are retried only for
        idempotent methods (GET, PUT, DELETE): a POST that EM may have carried out is never sent twice.
        """
        method = method.upper()
        headers = {"Accept": MEDIA_TYPES[accept]}
        if body is not None:
            headers["Content-Type"] = MEDIA_TYPES.get(content_type, content_type or MEDIA_TYPES[accept])
            if isinstance(body, str):
                body = body.encode("utf-8")
        retry = RETRY_IDEMPOTENT if method in IDEMPOTENT_METHODS else frozenset()
        response = self._authenticated(method, path, headers, retry, params=params, data=body)
        return self.check(response, path, method=method, expected=expected)

    def _authenticated(self, method, path, headers, retry, params=None, data=None, page=None):
        """_send() with the session header; one new logon if EM rejects a session this client owns (HTTP 401)."""
        url = self.base_url + path
        relogged = False
        while True:
            self.ensure_session()
            generation = self._generation
            response = self._send(method, url, path, {**headers, SESSION_HEADER: self._token}, retry, params=params, data=data, page=page)
            if response.status_code != 401:
                return response
            if self.ownership is Ownership.BORROWED:
                raise SessionExpiredError(
                    "EM rejected the session id given in session_id (HTTP 401): it has expired (EM ends a session after 15 minutes "
                    "without requests) or is invalid. Log on again with the veeam.enterprise_manager.session module and pass the new "
                    "session_id, or leave session_id unset so the task logs on itself.", status=401, method=method, path=path)
            if relogged:
                raise AuthError("EM answered HTTP 401 again right after a new logon; the account may have lost its EM role.",
                                status=401, method=method, path=path)
            with self._lock:
                if self._generation == generation:
                    # Token and ownership stay as they are until logon() replaces them: paging threads that hit the
                    # same 401 meanwhile must wait here, not see "no session" (second logon) or "not ours" (SessionExpiredError).
                    self.log("EM session expired%s; logging on again" % (" at page %d" % page if page else ""))
                    self.stats["relogons"] += 1
                    self.logon()
            relogged = True

    def check(self, response, path, page=None, method="GET", expected=(200,)):
        """The response when its status is expected, else ApiError with EM's (scrubbed) message and a hint."""
        if response.status_code in expected:
            return response
        em_message = self.scrub(error_message(response.content, response.headers.get("Content-Type")) or "")
        where = "%s %s%s" % (method, path, " page %d" % page if page else "")
        hint = ""
        if response.status_code == 403:
            hint = " The account's EM role may not cover this data."
        elif response.status_code == 400:
            hint = " Check the filter, sort field and query type." if path == "/api/query" else " Check the request's parameters and body."
        raise ApiError("EM answered %s with HTTP %d%s.%s" % (where, response.status_code, ": " + em_message if em_message else "", hint),
                       status=response.status_code, em_message=em_message or None, method=method, path=path)


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
