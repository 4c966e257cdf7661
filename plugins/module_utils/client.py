# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EM REST client (HTTP only) shared by every module, lookup and the audit.

One requests.Session with keep-alive and a connection pool sized to the paging workers.
Logon is lazy; logoff happens on close() for sessions this client owns. EM's query service
(paging) is in paging.py.
"""

from __future__ import annotations

import enum
import http.cookiejar
import re
import threading
import time
import warnings
from urllib.parse import quote, urlsplit

from .decode import error_message
from .errors import (
    ApiError,
    Interrupted,
    AuthError,
    CommunicationError,
    InvalidInputError,
    SessionExpiredError,
    TLSError,
)
from .logon import logon_error, malformed_session_error, read_logon_answer
from .retries import BACKOFF_BASE, CONNECTION, RETRY_IDEMPOTENT, RETRY_LOGON, TIMEOUT, after_retries, backoff_delay, retry_set
from .secrets import MASK, Secrets, guid_from_token, is_guid, is_session_token
from .transfer import Bounds, body_limit, read_body

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
# The logoff after an interrupt (Ctrl-C, SIGTERM): one attempt, bounded, so cancelling a job stays quick.
INTERRUPTED_LOGOFF_TIMEOUT = 10


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
        self._backoff_base = backoff_base
        self.secrets = Secrets(register_secret)
        # The password in every form an EM or proxy error may quote it: plain, the Basic header value, URL/JSON/XML-escaped.
        self.secrets.add_credentials(config.username, config.password)
        self.secrets.add(config.session_id)
        # EM tokens are base64(SessionId): the GUID opens the same session, so it is as secret as the token.
        self.secrets.add(guid_from_token(config.session_id) if config.session_id else None)
        try:
            self.base_url, plain_http = build_base_url(config.host, config.port)
        except ValueError as exc:
            raise InvalidInputError("host", str(exc), "Use a host name (em.example.com) or a URL (https://em.example.com:9398).")
        if plain_http and not config.allow_plain_http:
            raise InvalidInputError("host", "%s uses plain http://, which would send the password and session id unencrypted." % self.base_url,
                                    "Use https://, or set allow_plain_http: true (VEEAM_EM_ALLOW_PLAIN_HTTP) for a test simulator.")
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
        self._closed = False
        self.user_name = None
        self.api_version = config.api_version
        self.stats = {"requests": 0, "query_requests": 0, "retries": 0, "relogons": 0, "logons": 0, "logoffs": 0}

    def scrub(self, text):
        """Mask every known secret in a text that may reach the user."""
        return self.secrets.scrub(text)

    # -- context management ----------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        # Interrupted (SIGTERM) and KeyboardInterrupt (Ctrl-C) are not Exceptions: log off quickly, the user is waiting.
        self.close(quick=exc_type is not None and not issubclass(exc_type, Exception))
        return False

    def close(self, quick=False):
        """Log off a session this client owns; afterwards no request (from any paging thread) logs on again."""
        self._closed = True
        try:
            if self.ownership is Ownership.OWNED and self._token:
                self.logoff(quick=quick)
        finally:
            self.session.close()

    # -- logon / logoff --------------------------------------------------------------------------

    def ensure_session(self):
        if not self._token:
            self.logon()
        return self._token

    def logon(self):
        if self._closed:
            # A paging thread still running after close() (an interrupt) must not open a session nobody logs off.
            raise Interrupted("the EM client was closed")
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
            answer = read_logon_answer(response.content, response.headers.get("Content-Type"))
            self.user_name = answer.user_name or config.username
            self._logoff_href = answer.delete_href
            guid = answer.session_id
            if not is_session_token(token) or (guid is not None and not is_guid(guid)):
                self._refuse_session(token, guid)
            self._token = token
            if self.ownership is Ownership.BORROWED:
                self.ownership = Ownership.OWNED
            self._generation += 1
            self.secrets.add(token)
            self._logon_guid = guid or guid_from_token(token)
            self.secrets.add(self._logon_guid)
            self.log("logged on to %s as %s" % (self.base_url, self.user_name or config.username))
            return token
        em_message = self.scrub(error_message(response.content, response.headers.get("Content-Type")) or "")
        raise logon_error(response.status_code, em_message, path, self.base_url, config)

    def _refuse_session(self, token, guid):
        """A session id in no shape EM documents: never register it as a secret (Ansible would mask that string
        everywhere in the result, e.g. a session named non_compliant hides the verdict); log it off and fail."""
        target = guid if guid is not None else (guid_from_token(token) or token)
        try:
            if self._delete_session(self.base_url + "/api/logonSessions/" + quote(str(target), safe=""), token, True).status_code in (200, 204):
                self.stats["logoffs"] += 1
        except (CommunicationError, ApiError):
            pass
        raise malformed_session_error("/api/sessionMngr/")

    def logoff(self, quick=False):
        """End the EM session this client holds. Failures become a warning: results already read stay valid.

        quick: one attempt bounded by INTERRUPTED_LOGOFF_TIMEOUT (after Ctrl-C or SIGTERM).
        """
        token = self._token
        if not token:
            return
        url = self._logoff_url(token)
        if not url:
            self.warn("Could not log off from EM: its logon answer named no session; EM ends it after 15 minutes idle.")
            self._token = None
            return
        try:
            response = self._delete_session(url, token, quick)
        except (CommunicationError, ApiError) as exc:
            self.warn("Could not log off from EM: %s. EM ends the session after 15 minutes idle." % self.scrub(exc.message))
            return
        finally:
            self._token = None
        self.stats["logoffs"] += 1
        if response.status_code not in (200, 204, 401, 404):
            self.warn("EM answered the logoff with HTTP %d; it ends the session after 15 minutes idle." % response.status_code)

    def _logoff_url(self, token):
        guid = self._logon_guid or guid_from_token(token)
        if guid:
            return self.base_url + "/api/logonSessions/" + quote(str(guid), safe="")
        if self._logoff_href:
            # EM's own link may name another host (e.g. localhost); keep ours and take only its path.
            return self.base_url + urlsplit(self._logoff_href).path
        return None

    def _delete_session(self, url, token, quick):
        return self._send("DELETE", url, "/api/logonSessions/%s" % MASK, {SESSION_HEADER: token, "Accept": MEDIA_TYPES["xml"]},
                          frozenset() if quick else RETRY_IDEMPOTENT, quick=quick)

    def _end_replaced_session(self):
        """Best effort, one quick attempt: a session EM really expired just answers 401 or 404."""
        url = self._logoff_url(self._token)
        try:
            if url and self._delete_session(url, self._token, quick=True).status_code in (200, 204):
                self.stats["logoffs"] += 1
        except (CommunicationError, ApiError):
            pass

    # -- HTTP ------------------------------------------------------------------------------------

    def _send(self, method, url, path, headers, retry, params=None, data=None, auth=None, page=None, quick=False):
        """One HTTP exchange, retried with bounded exponential backoff and jitter for what ``retry`` names.

        Each attempt has a total deadline (request_timeout) and a body size limit (max_response_mb or derived
        from the page size), checked while the body streams in. Never returns a response whose status ``retry`` names.
        """
        config = self.config
        attempts = config.retries + 1 if retry else 1
        where = "%s %s%s" % (method, path, " (page %d)" % page if page else "")
        timeout = min(config.timeout, INTERRUPTED_LOGOFF_TIMEOUT) if quick else config.timeout
        request_timeout = timeout if quick else config.request_timeout
        for attempt in range(attempts):
            last = attempt == attempts - 1
            bounds = Bounds(time.monotonic() + request_timeout, body_limit(params, config.max_response_mb), where, self.base_url, request_timeout)
            try:
                self.stats["requests"] += 1
                response = self.session.request(method, url, headers=headers, params=params, data=data, auth=auth,
                                                timeout=timeout, allow_redirects=False, stream=True)
                # requests' own cache of the body: .content, .text and .json() then read it as usual.
                response._content = read_body(response, bounds, method, path)
            except requests.exceptions.SSLError as exc:
                raise TLSError(
                    "TLS verification failed for EM at %s: %s. Set ca_path to the CA certificate that signed EM's certificate "
                    "(EM generates a self-signed one at setup), or set validate_certs: false to skip verification (not recommended)."
                    % (self.base_url, _short(self.scrub(exc))), method=method, path=path)
            except requests.exceptions.Timeout as exc:
                if last or TIMEOUT not in retry:
                    raise CommunicationError("%s to EM at %s timed out after %s s%s. Raise timeout, or check EM's load."
                                             % (where, self.base_url, timeout, after_retries(attempt)), method=method, path=path, timeout=timeout)
                self._pause(attempt, where, type(exc).__name__)
                continue
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                if last or CONNECTION not in retry:
                    raise CommunicationError("%s to EM at %s failed: %s%s. Check host and port (EM listens on 9398)."
                                             % (where, self.base_url, _short(self.scrub(exc)), after_retries(attempt)), method=method, path=path)
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
                                         % (where, self.base_url, response.status_code, ": " + em_message if em_message else "", after_retries(attempt)),
                                         method=method, path=path)
            return response
        raise CommunicationError("%s failed after %d attempts." % (where, attempts), method=method, path=path)  # pragma: no cover

    def _pause(self, attempt, where, why):
        self.stats["retries"] += 1
        delay = backoff_delay(attempt, self._backoff_base)
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
        response = self._authenticated(method, path, headers, retry_set(method), params=params, data=body)
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
                    # A spurious 401 (a proxy, a glitch) may leave the old session alive: end it before replacing it.
                    # self._token stays until logon() replaces it (see above).
                    self._end_replaced_session()
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


def _short(exc):
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."
