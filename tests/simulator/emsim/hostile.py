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

The endless/stuck paging attacks (F4) are the paging faults of faults.py (huge_pages_count,
repeat_previous_page, missing_paging_info); the report attacks (F1, F8) need only hostile data.
"""

import base64
import binascii
import json
import time
from urllib.parse import quote

ACTIONS = ('echo_credentials', 'logon_session_id', 'trickle', 'huge_body')
MIB = 1024 * 1024


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
