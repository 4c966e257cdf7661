# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report formats, their file names, writing them atomically on the controller, and their SHA-256 manifest.

Reports list the whole estate: files are created no wider than 0640 and the umask narrows that further,
unless the caller gives an explicit mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile

from .report_common import is_combined
from .report_csv import render_csv
from .report_html import render_html
from .report_junit import render_junit
from .report_markdown import render_markdown

FORMATS = {"json": ".json", "html": ".html", "junit": ".junit.xml", "markdown": ".md", "csv": ".csv"}
DEFAULT_FORMATS = ["json", "html", "junit", "markdown", "csv"]
MANIFEST_SUFFIX = ".sha256"
DEFAULT_MODE = 0o640

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_DEFAULT_PORT_SUFFIX = ":9398"


# json.dumps escapes C0 controls itself; these it writes raw unless asked to escape all non-ASCII.
_JSON_RAW_CONTROL = re.compile("[\x7f-\x9f\ud800-\udfff]")


def render_json(report):
    """The report as indented JSON (the evidence document). Every value stays exact: DEL, C1 controls and lone
    surrogates are written as \\u escapes (json.dumps leaves them raw), like the C0 controls."""
    text = json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    # Outside strings JSON has only ASCII, so every match is inside a string, where \\uXXXX means the same.
    return _JSON_RAW_CONTROL.sub(lambda match: "\\u%04x" % ord(match.group()), text)


RENDERERS = {"json": render_json, "html": render_html, "junit": render_junit, "markdown": render_markdown, "csv": render_csv}


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
    """{format: path} of the report files ``write_reports`` writes (the manifest is ``manifest_path``)."""
    return {fmt: os.path.join(directory, basename + FORMATS[fmt]) for fmt in formats}


def manifest_path(directory, basename):
    return os.path.join(directory, basename + MANIFEST_SUFFIX)


def parse_mode(mode):
    """A file mode from an int (0o640, as YAML reads 0640) or an octal string ("0640", "640"); None = default."""
    if mode is None or mode == "":
        return None
    if isinstance(mode, bool):
        raise ValueError("mode must be an octal file mode such as '0640', got %r." % (mode,))
    if isinstance(mode, int):
        value = mode
    else:
        text = str(mode).strip()
        if not re.fullmatch(r"0?[oO]?[0-7]{1,4}", text):
            raise ValueError("mode must be an octal file mode such as '0640' (symbolic modes are not supported), got %r." % (mode,))
        value = int(text.replace("o", "").replace("O", ""), 8)
    if not 0 <= value <= 0o7777:
        raise ValueError("mode must be between 0000 and 07777 (octal), got %r." % (mode,))
    return value


def _current_umask():
    # os.umask can only be read by setting it; put it straight back.
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def effective_mode(mode=None):
    """The mode files are created with: ``mode`` as given, else DEFAULT_MODE narrowed by the umask."""
    explicit = parse_mode(mode)
    return explicit if explicit is not None else DEFAULT_MODE & ~_current_umask()


def manifest_text(paths):
    """``sha256sum`` lines ("<hex>  <file name>") of ``paths``, names relative to their directory."""
    lines = []
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        lines.append("%s  %s\n" % (digest.hexdigest(), os.path.basename(path)))
    return "".join(lines)


def _atomic_write(path, text, mode):
    directory = os.path.dirname(path) or "."
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        # The CSV writer ends lines itself (CRLF); every other format is written with \n.
        with os.fdopen(handle, "w", encoding="utf-8", newline="" if path.endswith(FORMATS["csv"]) else "\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def write_reports(report, directory, formats=tuple(DEFAULT_FORMATS), basename=None, mode=None):
    """Render and write each format atomically (temp file + rename), then the SHA-256 manifest of them.

    Returns {format: path, "sha256": manifest path}. ``mode``: see ``effective_mode``.
    """
    formats = [formats] if isinstance(formats, str) else list(formats)
    unknown = [name for name in formats if name not in RENDERERS]
    if unknown:
        raise ValueError("unknown report format %r; known: %s" % (unknown[0], ", ".join(RENDERERS)))
    name = basename or default_basename(report)
    check_basename(name)
    file_mode = effective_mode(mode)
    os.makedirs(directory, exist_ok=True)
    paths = report_paths(directory, name, formats)
    for fmt, path in paths.items():
        _atomic_write(path, RENDERERS[fmt](report), file_mode)
    manifest = manifest_path(directory, name)
    _atomic_write(manifest, manifest_text(paths.values()), file_mode)
    return dict(paths, sha256=manifest)
