"""Fault injection registry for the simulator (configured through POST /_sim/faults)."""

import threading

from .hostile import ACTIONS as HOSTILE_ACTIONS, QUERY_ACTIONS as HOSTILE_QUERY_ACTIONS

ON_KINDS = ('logon', 'logoff', 'query', 'task', 'policy', 'any')
# Actions answered before normal processing.
PRE_ACTIONS = ('status', 'reset', 'delay', 'expire_session', 'body', 'empty_body', 'doctype_entities',
               'external_entity', 'wrong_content_type', 'garbage_bytes') + HOSTILE_ACTIONS
# Actions that alter a normally produced response.
POST_ACTIONS = ('truncated_xml', 'truncated_json', 'missing_paging_info', 'huge_pages_count',
                'negative_pages_count', 'repeat_previous_page', 'bom_json') + HOSTILE_QUERY_ACTIONS
ACTIONS = PRE_ACTIONS + POST_ACTIONS

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE QueryResult [\n <!ENTITY lol "lol">\n'
    + ''.join(' <!ENTITY lol%d "%s">\n' % (level, ('&lol%d;' % (level - 1) if level > 1 else '&lol;') * 10)
              for level in range(1, 10))
    + ']>\n<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Refs><Ref Name="&lol9;" /></Refs></QueryResult>\n'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE QueryResult [\n <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
    '<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><CdpReplicaTaskSessions>'
    '<CdpReplicaTaskSession Type="CdpReplicaTaskSession" Name="&xxe;" UID="urn:veeam:CdpReplicaTaskSession:x" />'
    '</CdpReplicaTaskSessions></Entities><PagingInfo PagesCount="1" PageSize="100" PageNum="1" /></QueryResult>\n'
)
HTML_PAGE = ('<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Proxy authentication required</h1>'
             '<form method="post"><input name="user"><input name="password" type="password"></form></body></html>\n')


class FaultError(ValueError):
    pass


def _int(spec, key, default, minimum=None):
    value = spec.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultError('fault field %s must be an integer' % key)
    if minimum is not None and value < minimum:
        raise FaultError('fault field %s must be >= %d' % (key, minimum))
    return value


class Fault(object):
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise FaultError('each fault must be an object')
        self.spec = dict(spec)
        self.on = spec.get('on', 'any')
        if self.on not in ON_KINDS:
            raise FaultError('fault "on" must be one of %s' % ', '.join(ON_KINDS))
        self.action = spec.get('action')
        if self.action not in ACTIONS:
            raise FaultError('fault "action" must be one of %s' % ', '.join(ACTIONS))
        self.page = _int(spec, 'page', None, 1)
        self.after = _int(spec, 'after', 0, 0)
        self.times = _int(spec, 'times', 1, -1)
        if self.times == 0:
            raise FaultError('fault field times must be -1 (forever) or >= 1')
        self.status = _int(spec, 'status', 500 if self.action == 'status' else 200, 100)
        self.delay_ms = _int(spec, 'delay_ms', 0, 0)
        self.message = spec.get('message')
        self.body = spec.get('body', '')
        self.content_type = spec.get('content_type', 'text/plain')
        self.declare_full_length = bool(spec.get('declare_full_length', False))
        self.fired = 0

    def matches(self, kind, page):
        if self.on != 'any' and self.on != kind:
            return False
        if self.page is not None and (kind != 'query' or page != self.page):
            return False
        return True

    def describe(self):
        out = dict(self.spec)
        out.update({'after': self.after, 'times': self.times, 'fired': self.fired})
        return out


class FaultRegistry(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.faults = []
        self.fired_total = 0

    def set(self, specs, append=False):
        faults = [Fault(spec) for spec in specs]
        with self.lock:
            if append:
                self.faults.extend(faults)
            else:
                self.faults = faults
        return len(faults)

    def clear(self):
        with self.lock:
            self.faults = []

    def take(self, kind, page=None):
        """Return the first fault that fires for this request (consuming one use), or None."""
        with self.lock:
            for fault in list(self.faults):
                if not fault.matches(kind, page):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.fired += 1
                self.fired_total += 1
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                return fault
        return None

    def describe(self):
        with self.lock:
            return [fault.describe() for fault in self.faults]
