# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions raised by the EM client.

Modules turn them into ``fail_json``, lookups and filters into ``AnsibleError``
subclasses. Messages never carry credentials, session ids or request headers.
"""

from __future__ import annotations


class EmError(Exception):
    """Base class of every error this collection raises."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_result(self):
        """Keyword arguments for ``fail_json``: the message plus safe, structured details."""
        result = {"msg": self.message}
        result.update({key: value for key, value in self.details.items() if value is not None})
        return result


class InvalidInputError(EmError):
    """A user-supplied option is invalid. Raised before any request is sent."""

    def __init__(self, option, problem, fix=None):
        message = "Invalid value for option '%s': %s" % (option, problem)
        if fix:
            message += " " + fix
        super().__init__(message, option=option)
        self.option = option


class CommunicationError(EmError):
    """The request did not get an HTTP response (refused, reset, timed out, DNS)."""

    def __init__(self, message, method=None, path=None, timeout=None):
        super().__init__(message, method=method, path=path, timeout=timeout)


class TLSError(CommunicationError):
    """The TLS handshake failed, usually certificate verification."""


class ApiError(EmError):
    """EM answered with an unexpected HTTP status."""

    def __init__(self, message, status=None, em_message=None, method=None, path=None):
        super().__init__(message, status=status, em_message=em_message, method=method, path=path)
        self.status = status
        self.em_message = em_message


class AuthError(ApiError):
    """Logon failed (wrong credentials, no EM role, wrong endpoint)."""


class SessionExpiredError(AuthError):
    """A caller-supplied EM session id is expired or invalid."""


class DecodeError(EmError):
    """EM's response body could not be decoded safely (malformed, hostile or unexpected)."""

    def __init__(self, message, path=None, page=None):
        super().__init__(message, path=path, page=page)


class IncompleteResultError(EmError):
    """Paging could not produce a complete, consistent result. Never returned as partial data."""

    def __init__(self, message, page=None, expected=None, received=None):
        super().__init__(message, page=page, expected=expected, received=received)


class Interrupted(BaseException):
    """A signal (SIGTERM, SIGINT) stopped the task. A BaseException like KeyboardInterrupt, so no ``except EmError``
    or ``except Exception`` on the way swallows it, while every ``with EmClient`` block still logs off."""

    def __init__(self, message, signum=None):
        super().__init__(message)
        self.message = message
        self.signum = signum
