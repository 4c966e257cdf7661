"""Hostile-EM mode: fault actions that serve the attacks of the security review (issue 17) end to end.

Installed like any fault (POST /_sim/faults), each with its own fields:

- ``echo_credentials`` (on logon): answer 401 with an EM error whose message quotes what the client sent:
  the ``Authorization`` header, and the password decoded from it in plain, URL-encoded and JSON-escaped form.
- ``logon_session_id`` (on logon): log on normally, then name the session ``value`` (header token and
  ``SessionId`` both, or only ``field``: "token" / "session_id"). The session really is renamed, so a
  client that refuses the answer can still log it off.
- ``trickle`` (any): answer 200 with a large ``Content-Length`` and send one space every ``every_ms``.
- ``huge_body`` (any): answer 200 with ``Content-Length: size`` (default 500 MB) and stream that many bytes
  (a JSON prefix, then ``A``) in 1 MiB pieces, unless the client hangs up first.

Query-answer actions (QUERY_ACTIONS), applied by the simulator to the page it produced:

- ``endless`` (F4): the Nth answer (counted per fault, whatever page was asked for) is the items of page 1 with
  UIDs suffixed ``-nN`` from the second answer on (new records each time) and ``PagesCount`` N + 1: the result
  never ends and keeps growing, in whichever order the client reads the pages.
- ``stuck`` (F4): every page is page 1 again (same UIDs), without ``PagingInfo``.
- ``control_chars`` (F1): VM names, task names and reasons start with control characters, see CONTROL_JSON/CONTROL_XML.
"""

import base64
import binascii
import json
import re
import time
from urllib.parse import quote

ACTIONS = ('echo_credentials', 'logon_session_id', 'trickle', 'huge_body')
QUERY_ACTIONS = ('endless', 'stuck', 'control_chars')
MIB = 1024 * 1024
# NUL, BS, an ANSI colour sequence (ESC[31m), DEL and C1 CSI (U+009B, the one-byte form of ESC[): JSON escapes them all.
CONTROL_JSON = '\x00\x08\x1b[31m\x7f\x9b31m'
# XML 1.0 cannot carry NUL, BS or ESC, not even as character references (EM's XML writer could not send them);
# DEL and C1 are legal XML characters, sent once raw and once as character references.
CONTROL_XML = '\x7f\x9b31m&#x7f;&#x9b;0m'
_UID = re.compile(r'(urn:veeam:CdpReplicaTaskSession:[0-9A-Fa-f-]+)')
_JSON_TEXT = re.compile(r'("(?:VmDisplayName|vmDisplayName|Name|name|Reason|reason)":")')
_XML_TEXT = re.compile(r'((?:\sName|\sVmDisplayName)="|<Reason>)')


def query_page(fault, page):
    """(the page whose items to serve, PagesCount to announce or None for the real one, with PagingInfo) of page."""
    action = fault.action if fault is not None else None
    if action == 'endless':
        return 1, fault.fired + 1, True
    if action == 'stuck':
        return 1, None, False
    return page, None, True


def rewrite_query(fault, resp, as_json):
    """Alter the body of a query answer the simulator produced for a QUERY_ACTIONS fault."""
    action = fault.action
    text = resp.body.decode('utf-8')
    if action == 'endless' and fault.fired > 1:
        text = _UID.sub(r'\1-n%d' % fault.fired, text)
    elif action == 'control_chars':
        if as_json:
            text = _JSON_TEXT.sub(lambda match: match.group(1) + json.dumps(CONTROL_JSON)[1:-1], text)
        else:
            text = _XML_TEXT.sub(lambda match: match.group(1) + CONTROL_XML, text)
    resp.body = text.encode('utf-8')
    return resp


def apply(sim, fault, req, response_class):
    """The response of a hostile action, or None to go on normally."""
    spec = fault.spec
    if fault.action == 'echo_credentials':
        return _echo_credentials(sim, req)
    if fault.action == 'logon_session_id':
        return _rename_session(sim, req, str(spec.get('value', 'non_compliant')), spec.get('field', 'both'))
    if fault.action == 'trickle':
        every = max(int(spec.get('every_ms', 1000)), 1) / 1000.0
        resp = response_class(200, b'', 'application/json; charset=utf-8')
        resp.declared_length = int(spec.get('size', 100000000))
        resp.chunks = _trickle(every, resp.declared_length)
        return resp
    if fault.action == 'huge_body':
        size = int(spec.get('size', 500000000))
        resp = response_class(200, b'', 'application/json; charset=utf-8')
        resp.declared_length = size
        resp.chunks = _huge(size)
        return resp
    return None


def _echo_credentials(sim, req):
    auth = req.header('Authorization') or ''
    password = ''
    try:
        password = base64.b64decode(auth.partition(' ')[2].strip(), validate=True).decode('utf-8').partition(':')[2]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    message = 'Logon failed for Authorization: %s (password %s, form %s, json %s)' % (
        auth, password, quote(password, safe=''), json.dumps(password)[1:-1])
    return sim.error(req, 401, message, [('WWW-Authenticate', 'Basic Realm=RestSvc')])


def _rename_session(sim, req, value, field):
    resp = sim.logon(req)
    if resp.status != 201:
        return resp
    token = dict(resp.headers).get('X-RestSvcSessionId')
    with sim.lock:
        session = sim.sessions.pop(token)
        old_id = session.session_id
        if field in ('both', 'session_id'):
            session.session_id = value
        if field in ('both', 'token'):
            session.token = value
        sim.sessions[session.token] = session
    resp.headers = [(name, session.token if name in ('X-RestSvcSessionId',) else val) for name, val in resp.headers
                    if name != 'Set-Cookie']
    resp.body = resp.body.replace(old_id.encode('ascii'), session.session_id.encode('utf-8'))
    return resp


def _trickle(every, declared):
    yield b'{"Refs":'
    for dummy in range(declared):
        time.sleep(every)
        yield b' '


def _huge(size):
    prefix = b'{"Refs": ["'
    yield prefix
    sent = len(prefix)
    block = b'A' * MIB
    while sent < size:
        piece = block[:min(MIB, size - sent)]
        sent += len(piece)
        yield piece
