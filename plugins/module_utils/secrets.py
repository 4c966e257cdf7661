# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What EmClient keeps secret, in every form it may come back in, and the shapes of EM's session ids.

A secret is masked in the caller's output (Ansible's no_log values) and in every message the client
builds. Because Ansible masks *every* occurrence of a no_log value in a whole result, a value that EM
chooses (its session id) is accepted only in the shapes EM documents: otherwise a hostile EM could name
its session ``non_compliant`` and hide every verdict.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import quote, quote_plus

MASK = "********"
# Shorter values are not masked: a 1-3 character password would mask half of every result.
MIN_SECRET_LENGTH = 4
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def is_guid(value):
    return isinstance(value, str) and bool(_GUID.match(value))


def guid_from_token(token):
    """The SessionId GUID an EM token encodes (current EM: base64 of the GUID's text), else None."""
    try:
        text = base64.b64decode(token, validate=True).decode("ascii")
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None
    return text if is_guid(text) else None


def is_session_token(token):
    """A token in a shape EM documents: base64 of a GUID's text, or of a 16-byte binary GUID (older EM)."""
    if not isinstance(token, str) or not _BASE64.match(token) or len(token) % 4:
        return False
    if guid_from_token(token):
        return True
    try:
        return len(base64.b64decode(token, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def basic_credential(username, password):
    """The value of the Authorization header requests builds from (username, password) as UTF-8 bytes."""
    if not username or not password:
        return None
    return base64.b64encode(b"%s:%s" % (username.encode("utf-8"), password.encode("utf-8"))).decode("ascii")


def derived_forms(password):
    """Forms of a password an error page or JSON body may quote: URL-encoded, JSON-escaped, XML/HTML-escaped."""
    forms = {quote(password, safe=""), quote(password), quote_plus(password), json.dumps(password)[1:-1], json.dumps(password, ensure_ascii=False)[1:-1]}
    forms.add(password.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))
    forms.discard(password)
    return forms


class Secrets:
    """The secrets one client knows; each is handed to ``register`` (for example module.no_log_values.add) once."""

    def __init__(self, register=None):
        self._values = set()
        self._register = register or (lambda value: None)

    def add(self, value):
        if value and str(value) not in self._values:
            self._values.add(str(value))
            self._register(str(value))

    def add_credentials(self, username, password):
        """The password, the Basic value sent in Authorization, and the password's quoted forms."""
        if not password:
            return
        self.add(password)
        self.add(basic_credential(username, password))
        for form in derived_forms(password):
            self.add(form)

    def __contains__(self, value):
        return value in self._values

    def scrub(self, text):
        """Mask every known secret in a text that may reach the user."""
        text = str(text)
        for secret in sorted(self._values, key=len, reverse=True):
            if len(secret) >= MIN_SECRET_LENGTH:
                text = text.replace(secret, MASK)
        return text
