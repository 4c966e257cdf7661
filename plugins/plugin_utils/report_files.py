# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report formats, their file names, and writing them atomically on the controller."""

from __future__ import annotations

import json
import os
import re
import tempfile

from .report_common import is_combined
from .report_html import render_html
from .report_junit import render_junit
from .report_markdown import render_markdown

FORMATS = {"json": ".json", "html": ".html", "junit": ".junit.xml", "markdown": ".md"}
DEFAULT_FORMATS = ["json", "html", "junit", "markdown"]

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_DEFAULT_PORT_SUFFIX = ":9398"


def render_json(report):
    """The report as indented JSON (the evidence document)."""
    return json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


RENDERERS = {"json": render_json, "html": render_html, "junit": render_junit, "markdown": render_markdown}


def _host_label(em_host):
    """The EM as a short name: no scheme, no default port."""
    text = _SCHEME.sub("", str(em_host or "")).rstrip("/")
    return text[:-len(_DEFAULT_PORT_SUFFIX)] if text.endswith(_DEFAULT_PORT_SUFFIX) else text


def default_basename(report):
    """cdp-compliance-<EM host>-<UTC stamp>, or cdp-compliance-combined-<stamp>; safe as a file name."""
    ems = report.get("ems") or []
    if is_combined(report) and len(ems) != 1:
        label = "combined"
    else:
        label = _host_label(report.get("em_host") or (ems[0].get("em_host") if ems else None)) or "em"
    stamp = re.sub(r"[^0-9TZ]", "", str(report.get("generated_at") or "").split(".", maxsplit=1)[0].rstrip("Z")) + "Z"
    name = _FILE_UNSAFE.sub("_", "cdp-compliance-%s-%s" % (label, stamp)).strip("._-")
    return name or "cdp-compliance"


def check_basename(name):
    """Raise ValueError unless ``name`` is a plain file name."""
    if os.path.basename(name) != name or name in ("", ".", ".."):
        raise ValueError("basename must be a file name without directories, got %r." % (name,))


def report_paths(directory, basename, formats):
    """{format: path} of the files ``write_reports`` writes."""
    return {fmt: os.path.join(directory, basename + FORMATS[fmt]) for fmt in formats}


def _atomic_write(path, text, mode):
    directory = os.path.dirname(path) or "."
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def write_reports(report, directory, formats=tuple(DEFAULT_FORMATS), basename=None, mode=0o644):
    """Render and write each format atomically (temp file + rename). Returns {format: path}."""
    formats = [formats] if isinstance(formats, str) else list(formats)
    unknown = [name for name in formats if name not in RENDERERS]
    if unknown:
        raise ValueError("unknown report format %r; known: %s" % (unknown[0], ", ".join(RENDERERS)))
    name = basename or default_basename(report)
    check_basename(name)
    os.makedirs(directory, exist_ok=True)
    paths = report_paths(directory, name, formats)
    for fmt, path in paths.items():
        _atomic_write(path, RENDERERS[fmt](report), mode)
    return paths
