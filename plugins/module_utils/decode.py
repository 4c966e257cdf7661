# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decode EM response bodies (XML or JSON) into plain "raw items" and paging information.

A raw item is a dict keyed by EM's own names (attributes and child elements, or JSON keys)
in whatever case the server used; records.py normalises them.

XML never has an entity expanded or fetched. A UTF-8 (or ASCII, Latin-1) body without a DTD is
read by the standard library's C parser: without a DTD a document can declare no entity and name
no external one, so there is nothing to expand. Every other body (a DOCTYPE anywhere, another
encoding) goes to defusedxml, which refuses DOCTYPEs, entity declarations and external references.

JSON is read by msgspec when it is installed (about twice as fast per page), else by the standard library. msgspec
rejects more than the standard library does (NaN, numbers beyond a float, lone surrogates) and never accepts what
the standard library rejects; where it gives up, the standard library reads the body, so the result or the error
is always the standard library's own.
"""
# Not defusedxml for every body: its pure-Python parser is several times slower per page (docs/performance.md).

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
# Imported before defusedxml, which loads a pure-Python copy of this module for itself.
from xml.etree import ElementTree
from xml.etree.ElementTree import ParseError

from .errors import DecodeError

try:
    from defusedxml import ElementTree as SafeElementTree
    from defusedxml import DefusedXmlException
    HAS_DEFUSEDXML = True
    DEFUSEDXML_IMPORT_ERROR = None
except ImportError as exc:  # reported by the modules via missing_required_lib
    HAS_DEFUSEDXML = False
    DEFUSEDXML_IMPORT_ERROR = exc
    DefusedXmlException = ValueError

try:
    import msgspec
    HAS_MSGSPEC = True
except ImportError:  # optional: the standard library reads JSON then
    HAS_MSGSPEC = False

# Probes ask for pageSize=1, so PagesCount can equal the record count; beyond this it is broken or hostile.
MAX_PAGES_COUNT = 100000000
# Collections the EM schema declares as sequences; with a single child XML cannot show they are lists.
LIST_WRAPPERS = frozenset(("Includes", "Excludes", "TimePeriods"))
_INT = re.compile(r"^-?(?:0|[1-9]\d{0,17})$")
_INT_START = frozenset("-0123456789")
# An XML declaration's encoding; only ASCII-compatible single-byte-safe ones may skip defusedxml.
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_C_PARSER_ENCODINGS = frozenset((b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin-1", b"latin1"))
_local_names = {}


@dataclasses.dataclass
class Page:
    """One decoded query page: its raw items, and PagingInfo's PagesCount (None when EM sent none)."""

    items: list
    pages_count: int | None = None


def lower_keys(mapping):
    """A copy of mapping with lower-cased keys (EM sends PascalCase or camelCase)."""
    return {str(key).lower(): value for key, value in mapping.items()}


def key_lookup(mapping, name):
    """The value under name whatever the key's case and underscores (PascalCase, camelCase, snake_case); None if absent."""
    if name in mapping:
        return mapping[name]
    wanted = name.replace("_", "").lower()
    for key, value in mapping.items():
        if str(key).replace("_", "").lower() == wanted:
            return value
    return None


def _local(tag):
    """{namespace}Name -> Name, cached: a page repeats a dozen tags thousands of times."""
    name = _local_names.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        if len(_local_names) < 4096:
            _local_names[tag] = name
    return name


def _leaf(text):
    """Type an XML element's text the way EM's JSON would carry it."""
    if text is None:
        return None
    first = text[:1]
    if first in _INT_START and _INT.match(text):
        return int(text)
    if text == "true" or text == "True":
        return True
    if text == "false" or text == "False":
        return False
    return text if text.strip() else None


def element_to_raw(element, nested=False):
    """An XML element as a raw dict: attributes, then children (repeated children become lists).

    Attributes of nested elements are typed like element text (EM's JSON has booleans there); the
    item's own attributes (UID, Name, Href, Type) stay strings. A wrapper that only holds repeated
    children of one kind becomes that list, as EM's JSON serialises such collections.
    """
    if nested:
        raw = {name: _leaf(value) for name, value in element.attrib.items()}
    else:
        raw = dict(element.attrib)
    for child in element:
        tag = _local(child.tag)
        if tag == "Links":
            raw["Links"] = [dict(link.attrib) for link in child]
            continue
        if len(child) or child.attrib:
            value = element_to_raw(child, nested=True)
            text = child.text.strip() if child.text else ""
            if text:
                value["Value"] = _leaf(text)
            elif not child.attrib and len(value) == 1:
                only = next(iter(value.values()))
                if getattr(only, "repeated", False):
                    value = list(only)
                elif tag in LIST_WRAPPERS:
                    value = [only]
        else:
            value = _leaf(child.text)
        if tag in raw:
            existing = raw[tag]
            if isinstance(existing, list) and getattr(existing, "repeated", False):
                existing.append(value)
            else:
                raw[tag] = _Repeated([existing, value])
        else:
            raw[tag] = value
    return raw


class _Repeated(list):
    """A list built from repeated XML elements (as opposed to an element that holds a list)."""
    repeated = True


def _kind(content_type, body):
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type.endswith("/json") or content_type.endswith("+json"):
        return "json"
    if content_type.endswith("/xml") or content_type.endswith("+xml"):
        return "xml"
    if content_type:
        raise DecodeError("EM answered with content type %r where XML or JSON was expected. "
                          "Check that host points at Enterprise Manager's REST API (port 9398), not a web page or proxy." % content_type)
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"<":
        return "xml"
    if start in (b"{", b"["):
        return "json"
    raise DecodeError("EM answered without a content type and the body is neither XML nor JSON.")


def _parse_json(body):
    if HAS_MSGSPEC:
        try:
            return _msgspec_at_json_depth(_STDLIB_JSON_FRAMES, body[3:] if body.startswith(_UTF8_BOM) else body)
        except (msgspec.MsgspecError, RecursionError):
            pass  # what msgspec refuses, the standard library reads, or refuses with its own message
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError("EM returned malformed JSON: %s" % exc)


_UTF8_BOM = b"\xef\xbb\xbf"
# json.loads reaches its C scanner through a few Python frames (JSONDecoder.decode, raw_decode), and on Python 3.10 and
# 3.11 those count towards the recursion limit as nesting does. msgspec is called this many frames deeper, so a body
# nested too deeply for the standard library is too deep for msgspec too (tests/unit/.../test_decode_json.py).
_STDLIB_JSON_FRAMES = 8


def _msgspec_at_json_depth(frames, body):
    if frames:
        return _msgspec_at_json_depth(frames - 1, body)
    return msgspec.json.decode(body)


def _c_parser_allowed(body):
    """True when body has no DTD and an encoding in which the check for one is exact (see the module docstring)."""
    head = body[:256]
    if b"\x00" in head[:4]:
        return False  # UTF-16 or UTF-32
    start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    if not head.startswith(b"<", start):
        return False
    declared = _DECLARED_ENCODING.match(head, start)
    if declared and declared.group(1).lower() not in _C_PARSER_ENCODINGS:
        return False
    return b"<!DOCTYPE" not in body and b"<!ENTITY" not in body


def _xml_root(body):
    """The parsed document's root element. Pages are bounded by page_size, so a whole tree per page is small."""
    if _c_parser_allowed(body):
        parser = ElementTree.XMLParser()
        parser.feed(body)
        return parser.close()
    if not HAS_DEFUSEDXML:
        raise DecodeError("the defusedxml Python library is required to read XML safely: %s" % DEFUSEDXML_IMPORT_ERROR)
    return SafeElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)


def _xml_errors(func):
    def wrapper(body, *args, **kwargs):
        try:
            return func(body, *args, **kwargs)
        except DefusedXmlException as exc:
            raise DecodeError("refused EM's XML response: it contains a DOCTYPE, entity declaration or external reference (%s)." % type(exc).__name__)
        except ParseError as exc:
            raise DecodeError("EM returned malformed XML: %s" % exc)
    return wrapper


def _pages_count(paging):
    if paging is None:
        return None
    name = "pagescount"
    value = key_lookup(paging, name)
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise DecodeError("EM's PagingInfo has a non-integer %s: %r" % (name, value))
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise DecodeError("EM's PagingInfo has a non-numeric %s: %r" % (name, str(value)[:40]))
    if number < 0 or number > MAX_PAGES_COUNT:
        raise DecodeError("EM's PagingInfo has an implausible %s: %d" % (name, number))
    return number


@_xml_errors
def _decode_xml_page(body):
    root = _xml_root(body)
    if _local(root.tag) != "QueryResult":
        raise DecodeError("EM returned an XML %s document where a QueryResult was expected." % _local(root.tag))
    items = []
    paging = None
    for part in root:
        name = _local(part.tag)
        if name == "Entities":
            for collection in part:
                items.extend(map(element_to_raw, collection))
        elif name == "Refs":
            items.extend(map(element_to_raw, part))
        elif name == "PagingInfo":
            paging = dict(part.attrib)
    return Page(items, _pages_count(paging))


def _first_list(container, preferred=None):
    """The item list inside EM's JSON wrappers: {"Plural": {"Plural": [...]}} or variations."""
    if container is None:
        return []
    if isinstance(container, list):
        return container
    if not isinstance(container, dict):
        raise DecodeError("EM's JSON result holds a %s where a list of items was expected." % type(container).__name__)
    lowered = lower_keys(container)
    if preferred and preferred.lower() in lowered and lowered[preferred.lower()] is not None:
        return _first_list(lowered[preferred.lower()])
    for value in container.values():
        if isinstance(value, list):
            return value
    for value in container.values():
        if isinstance(value, dict):
            return _first_list(value)
    return []


def _decode_json_page(body, plural=None):
    document = _parse_json(body)
    if not isinstance(document, dict):
        raise DecodeError("EM's JSON result is a %s, not an object." % type(document).__name__)
    top = lower_keys(document)
    if "entities" not in top and "refs" not in top and "pagingInfo".lower() not in top:
        raise DecodeError("EM's JSON response is not a QueryResult (keys: %s)." % ", ".join(sorted(top)[:8]))
    items = []
    if top.get("entities") is not None:
        items = _first_list(top["entities"], plural)
    elif top.get("refs") is not None:
        items = _first_list(top["refs"])
    for item in items:
        if not isinstance(item, dict):
            raise DecodeError("EM's JSON result holds a %s where an item object was expected." % type(item).__name__)
    paging = top.get("paginginfo")
    if paging is not None and not isinstance(paging, dict):
        raise DecodeError("EM's JSON PagingInfo is not an object.")
    return Page(items, _pages_count(paging))


@contextlib.contextmanager
def _decoding(body):
    """Refuse an empty body; turn any failure inside the block into DecodeError, so callers see nothing else."""
    if not body or not body.strip(b"\xef\xbb\xbf \t\r\n"):
        raise DecodeError("EM returned an empty response body.")
    try:
        yield
    except DecodeError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        raise DecodeError("EM's response could not be decoded: %s" % type(exc).__name__)


def decode_query_page(body, content_type, plural=None):
    """Decode one page of a /api/query response. Raises DecodeError, never anything else."""
    with _decoding(body):
        if _kind(content_type, body) == "json":
            return _decode_json_page(body, plural)
        return _decode_xml_page(body)


@_xml_errors
def _xml_document(body):
    root = _xml_root(body)
    return _local(root.tag), element_to_raw(root)


def decode_document(body, content_type):
    """Decode a single EM document (LogonSession, Error, ...) into (root name or None, raw dict)."""
    with _decoding(body):
        if _kind(content_type, body) == "json":
            document = _parse_json(body)
            if not isinstance(document, dict):
                raise DecodeError("EM's JSON document is a %s, not an object." % type(document).__name__)
            return None, document
        return _xml_document(body)


def error_message(body, content_type):
    """EM's Error Message (XML attribute or JSON key, any case), or None. Never raises."""
    try:
        dummy, raw = decode_document(body, content_type)
    except DecodeError:
        return None
    lowered = lower_keys(raw)
    for key in ("message", "firstchanceexceptionmessage"):
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:500]
    return None
