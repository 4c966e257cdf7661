"""HTTP(S) server and request logic of the EM simulator.

``Simulator`` holds the state (data set, logon sessions, config, faults) and turns a
``Request`` into a ``Response``; ``SimServer`` serves it over a ThreadingHTTPServer
bound to loopback, optionally with TLS.
"""

import base64
import binascii
import collections
import json
import re
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote_plus, unquote

from . import data as simdata
from . import filters as simfilters
from . import hostile
from . import render
from .policies import PolicyService
from .faults import BILLION_LAUGHS, EXTERNAL_ENTITY, HTML_PAGE, FaultError, FaultRegistry

DEFAULT_USERS = (('EMLAB\\auditor', 'S3cret!pass'), ('EMLAB\\operator', '0perator!pass'))
SUPPORTED_VERSIONS = ('v1_5', 'v1_6', 'v1_7')
LATEST_VERSION = 'v1_7'
CDP_TYPES = ('CdpReplicaTaskSession', 'CdpReplicaSession', 'CdpPolicy')
KNOWN_TYPES = (
    'AgentBackupJob', 'AgentProtectionGroup', 'AgentRestorePoint', 'Backup', 'BackupFile', 'BackupJobSession',
    'BackupServer', 'BackupTaskSession', 'CdpPolicy', 'CdpReplica', 'CdpReplicaSession', 'CdpReplicaTaskSession',
    'CloudFailoverPlan', 'CloudFailoverSession', 'CloudGateway', 'CloudGatewayPool', 'CloudHardwarePlan',
    'CloudPublicIpAddress', 'CloudReplica', 'CloudSubtenant', 'CloudTenant', 'CloudVmReplicaPoint', 'Credentials',
    'DiscoveredComputer', 'FailoverPlan', 'FileServer', 'HierarchyRoot', 'Job', 'ManagedServer', 'NasJob',
    'NasObject', 'ObjectInAgentBackupJob', 'ObjectInJob', 'Passwords', 'Replica', 'ReplicaJobSession',
    'ReplicaTaskSession', 'Repository', 'RestorePoint', 'RestoreSession', 'Task', 'vAppReplicaPoint',
    'vAppRestorePoint', 'VCloudOrganizationConfig', 'VlanConfiguration', 'VmReplicaPoint', 'VmRestorePoint',
    'VsphereSelfServiceConfig', 'WanAccelerator',
)
_TYPE_BY_LOWER = dict((name.lower(), name) for name in KNOWN_TYPES)
# type -> (XML/JSON list key, XML item element, JSON inner list key)
TYPE_LISTS = {
    'CdpReplicaTaskSession': ('CdpReplicaTaskSessions', 'CdpReplicaTaskSession', 'CdpReplicaTaskSessions'),
    'CdpReplicaSession': ('CdpReplicaSessions', 'CdpPolicySession', 'CdpPolicySessions'),
    'CdpPolicy': ('CdpPolicies', 'CdpPolicy', 'CdpPolicies'),
}
REASONS = {200: 'OK', 201: 'Created', 204: 'NoContent', 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden',
           404: 'NotFound', 405: 'MethodNotAllowed', 500: 'InternalServerError', 501: 'NotImplemented',
           502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'GatewayTimeout'}
DEFAULT_CONFIG = {
    'idle_timeout': 900.0,
    'json_case': 'pascal',
    'json_bom': False,
    'page_delay_ms': 0,
    'empty_pages_count': 0,
    'insert_between_pages': 0,
    'max_page_size': None,
    'public_base_url': 'https://localhost:9398',
    'task_href_quirk': True,
    'default_order': 'creation',
    # Rendered records kept per presentation; the bench raises it so a million-record audit is not re-rendered.
    'render_cache_records': 400000,
}
_GUID_PATH = re.compile(r'(?i)(/api/logonSessions/)[^/?]+')
SESSION_HEADER = 'X-RestSvcSessionId'


class Request(object):
    def __init__(self, method, target, headers, body=b''):
        self.method = method.upper()
        path, _sep, query = target.partition('?')
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    @property
    def wants_json(self):
        return 'application/json' in (self.header('Accept') or '').lower()


class Response(object):
    def __init__(self, status=200, body=b'', content_type=None, headers=None):
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        if content_type:
            self.headers.append(('Content-Type', content_type))
        self.reset = False
        self.declared_length = None
        # An iterable of byte strings sent one write each (hostile.py: trickled and huge bodies).
        self.chunks = None


class ApiError(Exception):
    def __init__(self, status, message, headers=None):
        Exception.__init__(self, message)
        self.status = status
        self.message = message
        self.headers = headers or []


class LogonSession(object):
    def __init__(self, user, version):
        self.session_id = str(uuid.uuid4())
        self.token = base64.b64encode(self.session_id.encode('ascii')).decode('ascii')
        self.user = user
        self.version = version
        self.last_used = time.monotonic()


def _encode_param(value):
    """Form-encode like .NET HttpUtility.UrlEncode (lower-case escapes, space as '+')."""
    return re.sub('%[0-9A-F]{2}', lambda match: match.group(0).lower(), quote_plus(value, safe='!*()'))


class QueryEngine(object):
    """Filter/sort index over one Dataset, with a cache per (type, filter, sort)."""

    def __init__(self, dataset):
        self.ds = dataset
        self.cache = collections.OrderedDict()
        self.lock = threading.Lock()
        self._getters = {}
        self._orders = {}
        self._ranks = {}
        self._build_getters()
        self.base_order('CdpReplicaTaskSession')  # paid at generation time, not by the first query

    def _build_getters(self):
        ds = self.ds
        fold = str.casefold

        def cf_or_none(text):
            return text.casefold() if text else None

        def policy_of(psi):
            return ds.policies[ds.psessions[psi][simdata.P_POLICY]]

        ps_uid = ['urn:veeam:cdpreplicasession:' + rec[simdata.P_GUID] for rec in ds.psessions]
        ps_name = [fold(ds.psession_name(idx)) for idx in range(len(ds.psessions))]
        ps_bs_uid = ['urn:veeam:backupserver:' + ds.server_of_policy(policy_of(idx))['guid'] for idx in range(len(ds.psessions))]
        ps_bs_name = [fold(ds.server_of_policy(policy_of(idx))['name']) for idx in range(len(ds.psessions))]
        vm_fold = [fold(name) for name in ds.vm_names]
        pol_uid = ['urn:veeam:cdppolicy:' + pol['guid'] for pol in ds.policies]
        pol_name = [fold(pol['name']) for pol in ds.policies]
        pol_bs_uid = ['urn:veeam:backupserver:' + ds.server_of_policy(pol)['guid'] for pol in ds.policies]
        pol_bs_name = [fold(ds.server_of_policy(pol)['name']) for pol in ds.policies]
        env = {
            '_CF': cf_or_none, '_PSUID': ps_uid, '_PSNAME': ps_name, '_PSBSUID': ps_bs_uid, '_PSBSNAME': ps_bs_name,
            '_VMF': vm_fold, '_TNAME': lambda r: fold(ds.task_name(r)), '_POLUID': pol_uid, '_POLNAME': pol_name,
            '_POLBSUID': pol_bs_uid, '_POLBSNAME': pol_bs_name, '_PNAME': lambda r: fold(ds.psession_name_of(r)),
            '_RES': dict((name, idx) for idx, name in enumerate(simfilters.RESULT_ORDER)),
            '_SRVUID': ['urn:veeam:backupserver:' + srv['guid'] for srv in ds.servers],
            '_SRVNAME': [fold(srv['name']) for srv in ds.servers],
            '_NEXTRUN': lambda r: (ds.now_us + 15 * simdata.US) if r['schedule_enabled'] else None,
        }
        task = {
            'Id': ("'urn:veeam:cdpreplicatasksession:' + r[0]", False), 'Name': ('_TNAME(r)', False),
            'PolicySessionUid': ('_PSUID[r[2]]', False), 'PolicySessionName': ('_PSNAME[r[2]]', False),
            'BackupServerUid': ('_PSBSUID[r[2]]', False), 'BackupServerName': ('_PSBSNAME[r[2]]', False),
            'CreationTimeUTC': ('r[3]', False), 'EndTimeUTC': ('r[4]', True), 'State': ('r[5].casefold()', False),
            'Reason': ('_CF(r[7])', True), 'TotalSize': ('r[8]', False), 'VmDisplayName': ('_VMF[r[1]]', False),
        }
        psession = {
            'Id': ("'urn:veeam:cdpreplicasession:' + r[0]", False), 'Name': ('_PNAME(r)', False),
            'PolicyUid': ('_POLUID[r[1]]', False), 'PolicyName': ('_POLNAME[r[1]]', False),
            'BackupServerUid': ('_POLBSUID[r[1]]', False), 'BackupServerName': ('_POLBSNAME[r[1]]', False),
            'CreationTimeUTC': ('r[2]', False), 'EndTimeUTC': ('r[3]', True), 'State': ('r[4].casefold()', False),
            'Result': ('_RES[r[5]]', False), 'FailureMessage': ('_CF(r[6])', True),
        }
        policy = {
            'UID': ("'urn:veeam:cdppolicy:' + r['guid']", False), 'Name': ("r['name'].casefold()", False),
            'Description': ("_CF(r['description'])", True), 'NextRun': ('_NEXTRUN(r)', True),
            'ScheduleConfigured': ('True', False), 'ScheduleEnabled': ("r['schedule_enabled']", False),
            'BackupServerUid': ("_SRVUID[r['server']]", False), 'BackupServerName': ("_SRVNAME[r['server']]", False),
        }
        for qtype, table in (('CdpReplicaTaskSession', task), ('CdpReplicaSession', psession), ('CdpPolicy', policy)):
            self._getters[qtype] = dict((name, (expr, nullable, env)) for name, (expr, nullable) in table.items())
        self._env = env

    def records(self, qtype):
        if qtype == 'CdpReplicaTaskSession':
            return self.ds.tasks
        if qtype == 'CdpReplicaSession':
            return self.ds.psessions
        if qtype == 'CdpPolicy':
            return self.ds.policies
        return []

    def getter(self, qtype, field):
        expr, nullable, env = self._getters[qtype][field]
        return eval(compile('lambda r: ' + expr, '<em-sort>', 'eval'), env), nullable  # pylint: disable=eval-used

    def base_order(self, qtype):
        """Record indices sorted by (creation time, UID), extended in place for appended (newest) records."""
        recs = self.records(qtype)
        order = self._orders.get(qtype)
        if order is None:
            if qtype == 'CdpPolicy':
                order = sorted(range(len(recs)), key=lambda idx: (recs[idx]['name'].casefold(), recs[idx]['guid']))
            else:
                col = 3 if qtype == 'CdpReplicaTaskSession' else 2
                created = [rec[col] for rec in recs]
                order = sorted(range(len(recs)), key=created.__getitem__)
                # Equal creation times are rare: order those runs by UID.
                sorted_created = [created[idx] for idx in order]
                tie_starts = [pos for pos in range(1, len(order)) if sorted_created[pos] == sorted_created[pos - 1]]
                for pos in tie_starts:
                    start = pos - 1
                    while start > 0 and sorted_created[start - 1] == sorted_created[pos]:
                        start -= 1
                    end = pos + 1
                    while end < len(order) and sorted_created[end] == sorted_created[pos]:
                        end += 1
                    order[start:end] = sorted(order[start:end], key=lambda idx: recs[idx][0])
            self._orders[qtype] = order
            rank = [0] * len(order)
            for pos, idx in zip(range(len(order)), order):
                rank[idx] = pos
            self._ranks[qtype] = rank
        elif len(order) < len(recs):
            new = range(len(order), len(recs))
            self._ranks[qtype].extend(range(len(order), len(recs)))
            order.extend(new)
        return order

    def index(self, version, qtype, bound, filter_text, sort_field, descending, default_order):
        key = (version, qtype, filter_text, sort_field, descending, default_order)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        with self.lock:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
            recs = self.records(qtype)
            if not recs:
                result = []
            else:
                order = self.base_order(qtype)
                if bound is not None:
                    predicate = simfilters.compile_predicate(bound, self._getters[qtype])
                    # Sequential scan (cache friendly), then back into (creation, UID) order by rank.
                    result = [idx for idx, rec in enumerate(recs) if predicate(rec)]
                    result.sort(key=self._ranks[qtype].__getitem__)
                else:
                    result = list(order)
                if sort_field in ('CreationTimeUTC',):
                    if descending:
                        result.reverse()
                elif sort_field:
                    get, nullable = self.getter(qtype, sort_field)
                    if nullable:
                        def sort_key(idx):
                            value = get(recs[idx])
                            return (0, 0) if value is None else (1, value)
                    else:
                        def sort_key(idx):
                            return get(recs[idx])
                    # Stable sort over the (creation, UID) order: ties stay in that order.
                    result.sort(key=sort_key, reverse=descending)
                elif default_order == 'uid':
                    # Stricter option: a stable but non-chronological order (by UID).
                    uid_key = (lambda idx: recs[idx][0]) if qtype != 'CdpPolicy' else (lambda idx: recs[idx]['guid'])
                    result.sort(key=uid_key)
            self.cache[key] = result
            while len(self.cache) > 32:
                self.cache.popitem(last=False)
            return result


class Simulator(object):
    """All simulator state and the request logic (transport independent)."""

    def __init__(self, seed=42, vms=40, days=30, interval_hours=8, now=None, profile='realistic', users=None,
                 log=None, twin_vms=0, **config):
        self.lock = threading.RLock()
        self.config = dict(DEFAULT_CONFIG)
        self.update_config(config)
        self.users = {}
        for user, password in (users or DEFAULT_USERS):
            self.add_user(user, password)
        self.sessions = {}
        self.faults = FaultRegistry()
        self.counters = collections.Counter()
        self.requests = collections.Counter()
        self.log = log
        self.data_params = {}
        self.version = 0
        self.policy_service = PolicyService(self)
        self.reset_data(seed=seed, vms=vms, days=days, interval_hours=interval_hours, now=now, profile=profile, twin_vms=twin_vms)

    # ------------------------------------------------------------------ setup
    def add_user(self, user, password):
        """DOMAIN\\name also answers to name@domain.local and name@domain (case-insensitive user names)."""
        aliases = [user.lower()]
        if '\\' in user:
            domain, name = user.split('\\', 1)
            aliases += ['%s@%s.local' % (name.lower(), domain.lower()), '%s@%s' % (name.lower(), domain.lower())]
        for alias in aliases:
            self.users[alias] = (user, password)

    def reset_data(self, seed=42, vms=40, days=30, interval_hours=8, now=None, profile='realistic', twin_vms=0):
        started = time.monotonic()
        dataset = simdata.Dataset(seed=seed, vms=vms, days=days, interval_hours=interval_hours, now=now, profile=profile,
                                  twin_vms=twin_vms)
        engine = QueryEngine(dataset)
        with self.lock:
            self.dataset = dataset
            self.engine = engine
            self.renderers = {}
            self.version += 1
            self.now_arg = now
            self.data_params = {'seed': seed, 'vms': vms, 'days': days, 'interval_hours': interval_hours,
                                'now': simdata.fmt_iso(dataset.now_us), 'profile': profile, 'twin_vms': twin_vms,
                                'generation_seconds': round(time.monotonic() - started, 3)}
        return self.data_params

    def update_config(self, changes):
        for key, value in changes.items():
            if key not in DEFAULT_CONFIG:
                raise ValueError('unknown config key %s' % key)
            if key == 'json_case' and value not in ('pascal', 'camel'):
                raise ValueError('json_case must be pascal or camel')
            if key == 'empty_pages_count' and value not in (0, 1):
                raise ValueError('empty_pages_count must be 0 or 1')
            if key == 'default_order' and value not in ('uid', 'creation'):
                raise ValueError('default_order must be uid or creation')
            if key in ('page_delay_ms', 'insert_between_pages', 'render_cache_records') and (not isinstance(value, int) or value < 0):
                raise ValueError('%s must be a non-negative integer' % key)
            if key == 'max_page_size' and value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError('max_page_size must be null or a positive integer')
            if key == 'idle_timeout' and (not isinstance(value, (int, float)) or value <= 0):
                raise ValueError('idle_timeout must be a positive number of seconds')
            if key in ('json_bom', 'task_href_quirk') and not isinstance(value, bool):
                raise ValueError('%s must be a boolean' % key)
        self.config.update(changes)
        if any(key in changes for key in ('json_case', 'public_base_url', 'task_href_quirk', 'render_cache_records')):
            self.renderers = {}

    def renderer(self):
        key = (self.config['json_case'] == 'camel', self.config['public_base_url'], self.config['task_href_quirk'])
        rend = self.renderers.get(key)
        if rend is None:
            rend = render.Renderer(self.dataset, self.config['public_base_url'], camel=key[0], task_href_quirk=key[2],
                                   cache_records=self.config['render_cache_records'])
            self.renderers[key] = rend
        return rend

    # ------------------------------------------------------------------ helpers
    @property
    def camel(self):
        return self.config['json_case'] == 'camel'

    def error(self, req, status, message, headers=None):
        body, ctype = render.error_body(status, message, REASONS.get(status, 'Error'), req.wants_json, self.camel)
        if req.wants_json and self.config['json_bom']:
            body = render.BOM + body
        return Response(status, body, ctype, headers)

    def ok(self, req, obj_or_node, status=200, headers=None):
        body, ctype = render.document(obj_or_node, req.wants_json, self.camel)
        if req.wants_json and self.config['json_bom']:
            body = render.BOM + body
        return Response(status, body, ctype, headers)

    def href(self, path):
        return self.config['public_base_url'].rstrip('/') + path

    def token_of(self, req):
        """Cookie wins over the header when both are present (documented EM behaviour)."""
        cookie = req.header('Cookie') or ''
        for part in cookie.split(';'):
            name, _sep, value = part.strip().partition('=')
            if name.strip().lower() == SESSION_HEADER.lower() and value:
                return unquote(value.strip())
        return req.header(SESSION_HEADER)

    def authenticate(self, req):
        token = self.token_of(req)
        if not token:
            raise ApiError(401, 'The authorization header has been expected but not found (or found but is expired).')
        with self.lock:
            session = self.sessions.get(token)
            now = time.monotonic()
            if session is not None and now - session.last_used > self.config['idle_timeout']:
                del self.sessions[token]
                self.counters['expired_sessions'] += 1
                session = None
            if session is None:
                raise ApiError(401, 'The authorization header has been expected but not found (or found but is expired).')
            session.last_used = now
            return session

    # ------------------------------------------------------------------ dispatch
    def handle(self, req):
        path = req.path
        if path.startswith('/_sim/') or path == '/_sim':
            self.requests['control'] += 1
            return self.handle_control(req)
        lower = path.lower().rstrip('/')
        kind = 'other'
        if lower == '/api':
            kind = 'discovery'
        elif lower == '/api/sessionmngr':
            kind = 'logon'
        elif lower.startswith('/api/logonsessions/') and req.method == 'DELETE':
            kind = 'logoff'
        elif lower == '/api/query':
            kind = 'query'
        elif lower.startswith('/api/tasks/'):
            kind = 'task'
        elif lower.startswith('/api/cdppolicies/'):
            kind = 'policy'
        self.requests[kind] += 1
        page = None
        if kind == 'query':
            for name, value in parse_qsl(req.query, keep_blank_values=True):
                if name.lower() == 'page':
                    page = int(value) if value.strip().isdigit() else None
            page = page or 1
        fault = self.faults.take(kind, page)
        if fault is not None:
            if self.log:
                self.log('fault %s on %s' % (fault.action, kind))
            pre = self.apply_pre_fault(fault, req)
            if pre is not None:
                return pre
        try:
            if kind == 'discovery':
                return self.discovery(req)
            if kind == 'logon':
                return self.logon(req)
            if not lower.startswith('/api/') and lower != '/api':
                raise ApiError(404, 'Resource not found: %s' % path)
            session = self.authenticate(req)
            if kind == 'logoff':
                return self.logoff(path.rstrip('/').rsplit('/', 1)[-1])
            if kind == 'query':
                if req.method != 'GET':
                    raise ApiError(405, 'Method %s is not allowed for the query service' % req.method)
                return self.query(req, session, fault)
            if lower == '/api/logonsessions' and req.method == 'GET':
                return self.list_sessions(req)
            if lower.startswith('/api/logonsessions/') and req.method == 'GET':
                return self.get_session(req, path.rstrip('/').rsplit('/', 1)[-1])
            if lower == '/api/querysvc' and req.method == 'GET':
                return self.ok(req, render.Node('QuerySvc', [('Type', 'QuerySvc'), ('Href', self.href('/api/querySvc'))], [
                    render.links_node([render.link('Up', self.href('/api/logonSessions/' + session.session_id), None, 'LogonSession')])]))
            if self.policy_service.handles(lower):
                return self.policy_service.handle(req, session, ApiError)
            raise ApiError(404, 'The resource %s is not available in the simulator' % path)
        except ApiError as exc:
            return self.error(req, exc.status, exc.message, exc.headers)

    def apply_pre_fault(self, fault, req):
        action = fault.action
        if action == 'status':
            headers = [('WWW-Authenticate', 'Basic Realm=RestSvc')] if fault.status == 401 else []
            return self.error(req, fault.status, fault.message or 'Simulated failure (%d)' % fault.status, headers)
        if action == 'reset':
            resp = Response()
            resp.reset = True
            return resp
        if action == 'delay':
            time.sleep(fault.delay_ms / 1000.0)
            return None
        if action == 'expire_session':
            token = self.token_of(req)
            with self.lock:
                if token and self.sessions.pop(token, None) is not None:
                    self.counters['expired_sessions'] += 1
            return self.error(req, 401, 'The authorization header has been expected but not found (or found but is expired).')
        if action == 'body':
            body = fault.body.encode('utf-8') if isinstance(fault.body, str) else bytes(fault.body)
            return Response(fault.status, body, fault.content_type)
        if action == 'empty_body':
            return Response(fault.status, b'', render.JSON_CT if req.wants_json else render.XML_CT)
        if action == 'doctype_entities':
            return Response(200, BILLION_LAUGHS.encode('utf-8'), render.XML_CT)
        if action == 'external_entity':
            return Response(200, EXTERNAL_ENTITY.encode('utf-8'), render.XML_CT)
        if action == 'wrong_content_type':
            return Response(fault.status, HTML_PAGE.encode('utf-8'), 'text/html; charset=utf-8')
        if action in hostile.ACTIONS:
            return hostile.apply(self, fault, req, Response)
        if action == 'garbage_bytes':
            garbage = bytes(bytearray((idx * 97 + 13) % 256 for idx in range(512)))
            return Response(200, garbage, render.JSON_CT if req.wants_json else render.XML_CT)
        return None

    # ------------------------------------------------------------------ EM resources
    def discovery(self, req):
        if req.method != 'GET':
            raise ApiError(405, 'Method %s is not allowed' % req.method)
        versions = [render.Node('SupportedVersion', [('Name', ver)], [render.links_node([
            render.link('Create', self.href('/api/sessionMngr/?v=' + ver), None, 'LogonSession')])])
            for ver in SUPPORTED_VERSIONS]
        node = render.Node('EnterpriseManager', [], [
            render.links_node([render.link('Down', self.href('/api/logonSessions'), None, 'LogonSessionList'),
                               render.link('Create', self.href('/api/sessionMngr/?v=latest'), None, 'LogonSession')]),
            render.Node('SupportedVersions', children=versions, is_list=True)])
        return self.ok(req, node)

    def logon(self, req):
        if req.method != 'POST':
            raise ApiError(405, 'Method %s is not allowed for /api/sessionMngr/' % req.method)
        version = None
        for name, value in parse_qsl(req.query, keep_blank_values=True):
            if name.lower() == 'v':
                version = value
        if version is None:
            raise ApiError(400, 'API version is not specified. Use ?v=latest or one of: %s' % ', '.join(SUPPORTED_VERSIONS))
        if version.lower() == 'latest':
            version = LATEST_VERSION
        if version not in SUPPORTED_VERSIONS:
            raise ApiError(400, 'Version "%s" is not supported. Supported versions: %s' % (version, ', '.join(SUPPORTED_VERSIONS)))
        challenge = [('WWW-Authenticate', 'Basic Realm=RestSvc')]
        auth = req.header('Authorization') or ''
        scheme, _sep, encoded = auth.partition(' ')
        user = password = None
        if scheme.lower() == 'basic':
            try:
                user, _sep, password = base64.b64decode(encoded.strip(), validate=True).decode('utf-8').partition(':')
            except (binascii.Error, UnicodeDecodeError, ValueError):
                user = None
        account = self.users.get((user or '').lower())
        if account is None or account[1] != password:
            self.counters['failed_logons'] += 1
            raise ApiError(401, 'The user name or password is incorrect.', challenge)
        session = LogonSession(account[0], version)
        with self.lock:
            self.sessions[session.token] = session
            self.counters['logons'] += 1
        headers = [(SESSION_HEADER, session.token),
                   ('Set-Cookie', '%s=%s; Path=/api;' % (SESSION_HEADER, session.token))]
        return self.ok(req, self.session_node(session), 201, headers)

    def session_node(self, session):
        href = self.href('/api/logonSessions/' + session.session_id)
        down = [('BackupServerReferenceList', '/api/backupServers'), ('QueryService', '/api/querySvc'),
                ('CdpPolicyReferenceList', '/api/cdpPolicies'), ('CdpReplicaSessionReferenceList', '/api/cdpReplicaSessions'),
                ('CdpReplicaTaskSessionReferenceList', '/api/cdpReplicaTaskSessions')]
        links = [render.link('Up', self.href('/api/'), None, 'EnterpriseManager')]
        links += [render.link('Down', self.href(path), None, ltype) for ltype, path in down]
        links.append(render.link('Delete', href, None, 'LogonSession'))
        return render.Node('LogonSession', [('Type', 'LogonSession'), ('Href', href)], [
            render.links_node(links), render.Node('UserName', value=session.user),
            render.Node('SessionId', value=session.session_id)])

    def logoff(self, session_id):
        with self.lock:
            target = None
            for token, candidate in self.sessions.items():
                if candidate.session_id.lower() == session_id.lower():
                    target = token
            if target is None:
                raise ApiError(404, 'Logon session %s was not found' % session_id)
            del self.sessions[target]
            self.counters['logoffs'] += 1
        return Response(204)

    def list_sessions(self, req):
        with self.lock:
            sessions = list(self.sessions.values())
        items = [self.session_node(sess) for sess in sessions]
        return self.ok(req, render.Node('LogonSessions', children=items, is_list=True))

    def get_session(self, req, session_id):
        with self.lock:
            for sess in self.sessions.values():
                if sess.session_id.lower() == session_id.lower():
                    return self.ok(req, self.session_node(sess))
        # EM answers 500 here (observed by the veeam-em client), not 404.
        raise ApiError(500, 'Object reference not set to an instance of an object.')

    # ------------------------------------------------------------------ query service
    def parse_query(self, req, session):
        params = parse_qsl(req.query, keep_blank_values=True)
        seen = {}
        for name, value in params:
            low = name.lower()
            if low in ('type', 'format', 'filter', 'sortasc', 'sortdesc', 'pagesize', 'page'):
                if low in seen:
                    raise ApiError(400, 'Query parameter "%s" is specified more than once' % name)
                seen[low] = value
        qtype_raw = seen.get('type')
        if not qtype_raw:
            raise ApiError(400, 'Query type is not specified')
        qtype = _TYPE_BY_LOWER.get(qtype_raw.lower())
        if qtype is None:
            raise ApiError(400, 'Unknown query type "%s"' % qtype_raw)
        if qtype.startswith('Cdp') and session.version == 'v1_5':
            raise ApiError(400, 'Query type "%s" is not supported in API version v1_5' % qtype_raw)
        fmt = (seen.get('format') or 'References').lower()
        if fmt not in ('entities', 'references'):
            raise ApiError(400, 'Unknown format "%s". Use Entities or References' % seen.get('format'))
        if 'sortasc' in seen and 'sortdesc' in seen:
            raise ApiError(400, 'Only one of sortAsc and sortDesc may be given')
        sort_raw = seen.get('sortasc', seen.get('sortdesc'))
        descending = 'sortdesc' in seen
        page_size = self._positive_int(seen, 'pagesize', 'pageSize', 100)
        page = self._positive_int(seen, 'page', 'page', 1)
        cap = self.config['max_page_size']
        if cap is not None and page_size > cap:
            raise ApiError(400, 'pageSize %s exceeds the maximum of %s' % (page_size, cap))
        bound = None
        filter_text = seen.get('filter')
        sort_field = None
        try:
            if filter_text is not None:
                ast = simfilters.parse_filter(filter_text)
                if qtype in simfilters.SCHEMAS:
                    bound = simfilters.bind(ast, qtype)
            if sort_raw is not None and qtype in simfilters.SCHEMAS:
                sort_field = simfilters.lookup_field(simfilters.SCHEMAS[qtype], sort_raw.strip(), qtype)[0]
        except simfilters.FilterError as exc:
            raise ApiError(400, str(exc)) from None
        if sort_raw is not None and not sort_raw.strip():
            raise ApiError(400, 'Sort field is empty')
        return params, qtype, fmt, bound, filter_text, sort_field, descending, page_size, page

    @staticmethod
    def _positive_int(seen, key, label, default):
        if key not in seen:
            return default
        text = seen[key].strip()
        if not re.match(r'^[0-9]+$', text) or int(text) < 1 or int(text) > 2147483647:
            raise ApiError(400, 'Invalid value "%s" for %s: a positive integer is expected' % (seen[key], label))
        return int(text)

    def query(self, req, session, fault):
        params, qtype, fmt, bound, filter_text, sort_field, descending, page_size, page = self.parse_query(req, session)
        with self.lock:
            engine, version, rend = self.engine, self.version, self.renderer()
            config = dict(self.config)
        index = engine.index(version, qtype, bound, filter_text, sort_field, descending, config['default_order'])
        total = len(index)
        pages_count = (total + page_size - 1) // page_size if total else config['empty_pages_count']
        action = fault.action if fault is not None else None
        item_page = page - 1 if action == 'repeat_previous_page' and page > 1 else page
        item_page, hostile_count, with_paging = hostile.query_page(fault, item_page)
        selected = index[(item_page - 1) * page_size:item_page * page_size]
        if hostile_count is not None:
            pages_count = hostile_count
        elif action == 'huge_pages_count':
            pages_count = 2147483647
        elif action == 'negative_pages_count':
            pages_count = -1
        as_json = req.wants_json
        if action == 'truncated_xml':
            as_json = False
        elif action in ('truncated_json', 'bom_json'):
            as_json = True
        if qtype == 'CdpReplicaTaskSession':
            frag = rend.task_fragment
        elif qtype == 'CdpReplicaSession':
            frag = rend.psession_fragment
        else:
            frag = rend.policy_fragment
        items = [frag(idx, fmt, as_json) for idx in selected]
        links = self.paging_links(params, page_size, page, pages_count)
        body = self.query_body(qtype, fmt, items, links, page, page_size, pages_count, as_json,
                               with_paging and action != 'missing_paging_info', rend)
        if as_json and (config['json_bom'] or action == 'bom_json'):
            body = render.BOM + body
        resp = Response(200, body, render.JSON_CT if as_json else render.XML_CT)
        if action in ('truncated_xml', 'truncated_json'):
            cut = max(1, len(body) // 2)
            resp.body = body[:cut]
            if fault.declare_full_length:
                resp.declared_length = len(body)
        if action in hostile.QUERY_ACTIONS:
            resp = hostile.rewrite_query(fault, resp, as_json)
        if config['page_delay_ms']:
            time.sleep(config['page_delay_ms'] / 1000.0)
        if config['insert_between_pages']:
            with self.lock:
                self.dataset.insert_newest_tasks(config['insert_between_pages'])
                self.version += 1
                self.counters['inserted_tasks'] += config['insert_between_pages']
        return resp

    def paging_links(self, params, page_size, page, pages_count):
        base = [(name, value) for name, value in params if name.lower() not in ('pagesize', 'page')]
        prefix = self.href('/api/query?') + '&'.join('%s=%s' % (name, _encode_param(value)) for name, value in base)

        def target(num):
            return '%s&pageSize=%d&page=%d' % (prefix, page_size, num)

        last = max(pages_count, 1)
        links = [('First', target(1))]
        if page > 1:
            links.append(('Previous', target(min(page - 1, last))))
        if page < pages_count:
            links.append(('Next', target(page + 1)))
        links.append(('Last', target(last)))
        return links

    def query_body(self, qtype, fmt, items, links, page, page_size, pages_count, as_json, with_paging, rend):
        list_key, _item, inner_key = TYPE_LISTS.get(qtype, (qtype + 's', qtype, qtype + 's'))
        if as_json:
            if fmt == 'entities':
                entities = dict((key, None) for key in render.ENTITY_LIST_KEYS)
                entities[list_key] = {inner_key: '\x00ITEMS\x00'}
                top = {'Refs': None, 'Entities': entities}
            else:
                top = {'Refs': {'Refs': '\x00ITEMS\x00'}, 'Entities': None}
            top.update({'Resources': None, 'Links': None})
            if with_paging:
                top['PagingInfo'] = {'Links': [{'Rel': rel, 'Href': href, 'Name': None, 'Type': None} for rel, href in links],
                                     'PageNum': page, 'PageSize': page_size, 'PagesCount': pages_count}
            text = rend.dumps(top)
            sentinel = json.dumps('\x00ITEMS\x00')
            return text.replace(sentinel, ('[' + ','.join(items) + ']') if items else 'null').encode('utf-8')
        parts = ['<QueryResult xmlns="%s">' % render.NS]
        outer = 'Entities' if fmt == 'entities' else None
        wrapper = list_key if fmt == 'entities' else 'Refs'
        if outer:
            parts.append('<%s>' % outer)
        if items:
            parts.append('<%s>' % wrapper)
            parts.extend(items)
            parts.append('</%s>' % wrapper)
        else:
            parts.append('<%s />' % wrapper)
        if outer:
            parts.append('</%s>' % outer)
        if with_paging:
            parts.append('<PagingInfo PagesCount="%d" PageSize="%d" PageNum="%d"><Links>' % (pages_count, page_size, page))
            for rel, href in links:
                parts.append('<Link Rel="%s" Href="%s" />' % (rel, render.esc_attr(href)))
            parts.append('</Links></PagingInfo>')
        parts.append('</QueryResult>')
        return ''.join(parts).encode('utf-8')

    # ------------------------------------------------------------------ control API
    def state(self):
        with self.lock:
            return {
                'open_sessions': len(self.sessions),
                'logons': self.counters['logons'],
                'logoffs': self.counters['logoffs'],
                'failed_logons': self.counters['failed_logons'],
                'expired_sessions': self.counters['expired_sessions'],
                'inserted_tasks': self.counters['inserted_tasks'],
                'requests': dict(self.requests),
                'records': self.dataset.counts(),
                'config': dict(self.config),
                'data': dict(self.data_params),
                'faults_fired': self.faults.fired_total,
                'faults_pending': len(self.faults.describe()),
            }

    def handle_control(self, req):
        def reply(obj, status=200):
            return Response(status, json.dumps(obj, indent=1).encode('utf-8'), 'application/json; charset=utf-8')

        try:
            payload = json.loads(req.body.decode('utf-8')) if req.body.strip() else {}
            if not isinstance(payload, dict):
                raise ValueError('JSON object expected')
        except ValueError as exc:
            return reply({'error': 'invalid JSON body: %s' % exc}, 400)
        route = (req.method, req.path.rstrip('/'))
        try:
            if route == ('GET', '/_sim/state'):
                return reply(self.state())
            if route == ('GET', '/_sim/truth'):
                return reply(self.dataset.truth)
            if route == ('POST', '/_sim/reset'):
                args = dict(self.data_params)
                args.pop('generation_seconds', None)
                # Without "now", keep the one given at start (or use the current time again).
                args['now'] = payload.get('now', self.now_arg)
                for key in ('seed', 'vms', 'days', 'interval_hours', 'profile', 'twin_vms'):
                    if key in payload:
                        args[key] = payload[key]
                unknown = set(payload) - {'seed', 'vms', 'days', 'interval_hours', 'now', 'profile', 'twin_vms', 'drop_sessions'}
                if unknown:
                    raise ValueError('unknown reset keys: %s' % ', '.join(sorted(unknown)))
                params = self.reset_data(**args)
                if payload.get('drop_sessions'):
                    with self.lock:
                        self.sessions.clear()
                return reply({'data': params, 'records': self.dataset.counts()})
            if route == ('GET', '/_sim/config'):
                return reply(dict(self.config))
            if route == ('POST', '/_sim/config'):
                with self.lock:
                    self.update_config(payload)
                return reply(dict(self.config))
            if route == ('POST', '/_sim/expire'):
                with self.lock:
                    sid = payload.get('session_id')
                    doomed = [tok for tok, sess in self.sessions.items() if sid is None or sess.session_id == sid
                              or tok == sid]
                    for tok in doomed:
                        del self.sessions[tok]
                    self.counters['expired_sessions'] += len(doomed)
                return reply({'expired': len(doomed)})
            if route == ('POST', '/_sim/insert'):
                count = int(payload.get('count', 1))
                with self.lock:
                    self.dataset.insert_newest_tasks(count)
                    self.version += 1
                    self.counters['inserted_tasks'] += count
                return reply({'inserted': count, 'records': self.dataset.counts()})
            if route == ('POST', '/_sim/complete'):
                unknown = set(payload) - {'uid', 'vm', 'result', 'reason', 'end_time', 'successor'}
                if unknown:
                    raise ValueError('unknown complete keys: %s' % ', '.join(sorted(unknown)))
                if not payload.get('uid') and not payload.get('vm'):
                    raise ValueError('give "uid" or "vm"')
                result = payload.get('result', 'Failed')
                if result not in ('Success', 'Warning', 'Failed', 'None'):
                    raise ValueError('result must be Success, Warning, Failed or None')
                end = payload.get('end_time')
                with self.lock:
                    done, successor = self.dataset.complete_task(
                        uid=payload.get('uid'), vm=payload.get('vm'), result=result, reason=payload.get('reason'),
                        end_us=simdata.parse_iso_us(end) if end else None, successor=payload.get('successor', True))
                    self.version += 1
                    self.renderers = {}  # they cache each record's rendering, and this one changed
                return reply({'completed': done, 'successor': successor, 'records': self.dataset.counts()})
            if route == ('GET', '/_sim/faults'):
                return reply({'faults': self.faults.describe(), 'fired_total': self.faults.fired_total})
            if route == ('POST', '/_sim/faults'):
                specs = payload.get('faults')
                if not isinstance(specs, list):
                    raise ValueError('"faults" must be a list')
                count = self.faults.set(specs, append=bool(payload.get('append')))
                return reply({'installed': count, 'faults': self.faults.describe()})
            if route == ('DELETE', '/_sim/faults'):
                self.faults.clear()
                return reply({'faults': []})
            if route[1] == '/_sim/policy_tasks' and route[0] in ('GET', 'POST'):
                return reply(self.policy_service.control(route[0], payload))
        except (ValueError, TypeError, FaultError) as exc:
            return reply({'error': str(exc)}, 400)
        return reply({'error': 'unknown control endpoint %s %s' % route}, 404)


# ---------------------------------------------------------------------- transport
class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    # Without it a keep-alive client waits ~40 ms per response for the delayed ACK.
    disable_nagle_algorithm = True
    server_version = 'Microsoft-HTTPAPI/2.0'
    sys_version = ''
    timeout = 120

    def _dispatch(self):
        length = self.headers.get('Content-Length')
        try:
            body = self.rfile.read(int(length)) if length else b''
        except ValueError:
            body = b''
        req = Request(self.command, self.path, self.headers, body)
        resp = self.server.sim.handle(req)
        if resp.reset:
            self._reset_connection()
            return
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        if resp.status != 204:
            self.send_header('Content-Length', str(resp.declared_length or len(resp.body)))
        if resp.declared_length:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        if self.command != 'HEAD' and resp.status != 204:
            self.wfile.write(resp.body)
            if resp.chunks is not None:
                self._write_chunks(resp.chunks)

    def _write_chunks(self, chunks):
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client hung up: what a bounded client should do
        self.close_connection = True

    def _reset_connection(self):
        self.log_line('reset')
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _dispatch

    def log_line(self, status):
        logger = self.server.sim.log
        if logger:
            path = _GUID_PATH.sub(r'\1***', self.path.split('?', 1)[0])
            query = ('?' + self.path.split('?', 1)[1]) if '?' in self.path else ''
            logger('%s %s%s %s' % (self.command, path, query, status))

    def log_request(self, code='-', size='-'):
        self.log_line(code)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        logger = self.server.sim.log
        if logger and format.startswith('code'):
            logger(format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, sim, ssl_context=None):
        self.sim = sim
        self.ssl_context = ssl_context
        self.connections = set()
        self.conn_lock = threading.Lock()
        ThreadingHTTPServer.__init__(self, address, _Handler)

    def finish_request(self, request, client_address):
        conn = request
        try:
            if self.ssl_context is not None:
                request.settimeout(10)
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            with self.conn_lock:
                self.connections.add(conn)
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ValueError):
            pass
        finally:
            with self.conn_lock:
                self.connections.discard(conn)
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        if self.sim.log:
            self.sim.log('connection error from %s' % (client_address,))

    def close_connections(self):
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SimServer(object):
    """Run a Simulator on loopback: ``with SimServer(port=0, tls_dir=...) as srv: srv.url``."""

    def __init__(self, bind='127.0.0.1', port=0, tls_dir=None, simulator=None, **sim_args):
        self.sim = simulator or Simulator(**sim_args)
        self.tls_dir = tls_dir
        ctx = None
        if tls_dir:
            from .tls import server_context
            ctx = server_context(tls_dir)
        self.httpd = _Server((bind, port), self.sim, ctx)
        self.port = self.httpd.server_address[1]
        self.scheme = 'https' if ctx else 'http'
        self.url = '%s://%s:%d' % (self.scheme, bind, self.port)
        self.thread = None

    @property
    def ca_file(self):
        import os
        return os.path.join(self.tls_dir, 'ca.pem') if self.tls_dir else None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05},
                                       name='em-simulator', daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread.join(10)
            self.thread = None
        self.httpd.close_connections()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
