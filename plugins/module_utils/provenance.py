# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provenance of an audit: which EM and API version answered, where it ran, and the user's labels.

What EM reports about itself (GET /api/ discovery): ``GET /api/`` lists the API versions
it supports (``SupportedVersions/SupportedVersion@Name``); ``latest`` at logon means the newest of them. Neither
that document nor the LogonSession carries EM's product version or build in the documented schema, so those are
read only when a key for them is present (a later EM may add one) and are null otherwise, never guessed.
"""

from __future__ import annotations

import re
import socket

from .decode import decode_document, key_lookup
from .errors import EmError, InvalidInputError

_VERSION = re.compile(r"^v?(\d+)(?:[._](\d+))?$", re.IGNORECASE)
# Keys under which an EM document might state the product's version and build (none is documented today).
_EM_VERSION_KEYS = ("ProductVersion", "Version", "EnterpriseManagerVersion")
_EM_BUILD_KEYS = ("Build", "ProductBuild", "BuildNumber")


def supported_versions(document):
    """The API version names an EnterpriseManager document lists, in EM's order."""
    versions = key_lookup(document, "SupportedVersions") or []
    if isinstance(versions, dict):
        versions = key_lookup(versions, "SupportedVersion") or []
    if isinstance(versions, dict):
        versions = [versions]
    names = []
    for item in versions if isinstance(versions, list) else []:
        name = key_lookup(item, "Name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def newest_version(names):
    """The newest of API version names like v1_7 (what logon's ``latest`` picks), or None."""
    ranked = []
    for name in names:
        match = _VERSION.match(name)
        if match:
            ranked.append(((int(match.group(1)), int(match.group(2) or 0)), name))
    return max(ranked)[1] if ranked else None


def _first_text(document, keys):
    for key in keys:
        value = key_lookup(document, key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def em_provenance(client, requested):
    """{api_version, api_version_requested, api_versions_supported, em_version, em_build, provenance_error}.

    ``api_version`` is the version the session runs: the requested one, or for ``latest`` the newest EM lists at
    ``GET /api/``; null when that could not be read (``provenance_error`` says why). Never raises an EmError:
    provenance must not fail an audit whose data was read.
    """
    result = {"api_version": None if str(requested).lower() == "latest" else requested, "api_version_requested": requested,
              "api_versions_supported": None, "em_version": None, "em_build": None, "provenance_error": None}
    try:
        response = client.request("GET", "/api/", accept="xml")
        dummy, document = decode_document(response.content, response.headers.get("Content-Type"))
    except EmError as exc:
        result["provenance_error"] = str(exc)
        return result
    names = supported_versions(document)
    result["api_versions_supported"] = names
    if result["api_version"] is None:
        result["api_version"] = newest_version(names)
    result["em_version"] = _first_text(document, _EM_VERSION_KEYS)
    result["em_build"] = _first_text(document, _EM_BUILD_KEYS)
    return result


_AWX_JOB_KEYS = ("id", "template", "launched_by")


def audit_labels(params):
    """{controller, awx_job, title, period} for the evidence, from the module options; InvalidInputError before any request.

    ``controller`` is this host's name: the audit module runs on the controller (the role delegates it to localhost).
    """
    awx_job = params.get("awx_job")
    if awx_job is not None:
        unknown = sorted(str(key) for key in awx_job if key not in _AWX_JOB_KEYS)
        if unknown:
            raise InvalidInputError("awx_job.%s" % unknown[0], "unknown key.", "Known keys: %s." % ", ".join(_AWX_JOB_KEYS))
        awx_job = {key: (str(awx_job[key]) if awx_job.get(key) not in (None, "") else None) for key in _AWX_JOB_KEYS}
        if not any(awx_job.values()):
            awx_job = None
    labels = {"controller": socket.gethostname() or None, "awx_job": awx_job}
    for name in ("title", "period"):
        value = params.get(name)
        if value is not None and any(ord(char) < 32 for char in str(value)):
            raise InvalidInputError(name, "contains a control character.", "Use one line of plain text.")
        labels[name] = (str(value).strip() or None) if value is not None else None
    return labels
