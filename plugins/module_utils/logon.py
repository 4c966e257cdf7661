# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EM's logon answer (POST /api/sessionMngr/) read into what the client keeps, and the errors a failed logon gives."""

from __future__ import annotations

import dataclasses
from typing import Optional

from .decode import decode_document, key_lookup, lower_keys
from .errors import ApiError, AuthError, DecodeError

ROLES = "Portal Administrator, Portal User or Restore Operator"


@dataclasses.dataclass
class LogonAnswer:
    """The parts of a LogonSession body the client uses; each None when EM's answer lacks it."""

    session_id: Optional[str] = None
    user_name: Optional[str] = None
    delete_href: Optional[str] = None


def read_logon_answer(body, content_type):
    """A LogonAnswer from EM's logon body; an undecodable body gives an empty one (the token header is what counts)."""
    try:
        dummy, raw = decode_document(body, content_type)
    except DecodeError:
        raw = {}
    lowered = lower_keys(raw) if isinstance(raw, dict) else {}
    answer = LogonAnswer(user_name=lowered.get("username") or None)
    session_id = lowered.get("sessionid")
    answer.session_id = str(session_id) if session_id not in (None, "") else None
    links = lowered.get("links")
    for link in links if isinstance(links, list) else ():  # anything else (a hostile EM's true, 5, "x") names no link
        if isinstance(link, dict) and str(key_lookup(link, "rel") or "").lower() == "delete":
            answer.delete_href = key_lookup(link, "href")
    return answer


def logon_error(status, em_message, path, base_url, config):
    """The AuthError (401, 403) or ApiError of a failed logon, with what to check. em_message must already be scrubbed."""
    detail = ": " + em_message if em_message else ""
    user = config.username
    messages = {
        401: "EM rejected the user name or password for user '%s' (HTTP 401%s). Check the password; for a domain account try both "
             "DOMAIN\\user and user@domain, and make sure the account has an EM role (%s)." % (user, detail, ROLES),
        403: "EM refused the logon for user '%s' (HTTP 403%s): the account needs an EM role (%s)." % (user, detail, ROLES),
        404: "EM's logon endpoint %s was not found at %s (HTTP 404). Enterprise Manager's REST API listens on port 9398; "
             "port 9419 is the Backup & Replication REST API, which has no CDP task sessions." % (path, base_url),
        400: "EM rejected the logon (HTTP 400%s). If api_version is set (now '%s'), use latest or a version EM lists at GET /api/."
             % (detail, config.api_version),
    }
    error = AuthError if status in (401, 403) else ApiError
    return error(messages.get(status, "EM logon failed with HTTP %d%s." % (status, detail)), status=status, em_message=em_message or None,
                 method="POST", path=path)


def malformed_session_error(path):
    return ApiError("EM's logon answer is malformed: its session id is not a GUID or the base64 token of one, as EM documents. "
                    "Check that host points at Enterprise Manager (a proxy may be rewriting its answers).", status=201, method="POST", path=path)
