"""CDP policy changes and EM tasks.

``GET /api/cdpPolicies/{ID}[?format=Entity]``, ``PUT /api/cdpPolicies/{ID}`` (XML or JSON body),
``POST /api/cdpPolicies/{ID}?action=enable|disable`` and ``GET /api/tasks/{ID}``.

A change answers 202 with a ``Task`` (Veeam's documented shape). The task answers ``Running`` to the first
``running_polls`` polls, is then carried out (``OperationFinished``) and reads ``Finished`` on the next poll;
a task told to fail ends ``Finished`` with ``Result Success="false"`` and changes nothing.

What the simulator assumes where Veeam's docs are silent (see docs/cdp-policy.md): an XML body whose elements
are out of EM's order, or unknown, is refused with 400 (the docs only warn that the order must be right); the RPO
must be from 2 seconds to 60 minutes; a reporting threshold must be at least 1 second; only accounts with the
Portal Administrator role may change anything (others get 403 "Access denied.").

Control: ``GET|POST /_sim/policy_tasks`` with ``{"running_polls": n, "admins": [...], "fail": [{"policy": name or
uid, "message": text}]}``.
"""

import json
import re
import threading
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl

from . import render

UID_PREFIX = 'urn:veeam:CdpPolicy:'
DEFAULT_ADMINS = ('EMLAB\\operator',)
RPO_RANGE = (2, 3600)
ACCESS_DENIED = 'Access denied.'
# EM's element order of a CdpPolicy (GET /cdpPolicies/{ID} and the PUT examples).
ORDER = {
    'CdpPolicy': ('Links', 'PolicyType', 'Platform', 'Description', 'ScheduleConfigured', 'ScheduleEnabled', 'NextRun',
                  'PolicyScheduleOptions', 'CdpPolicyInfo'),
    'PolicyScheduleOptions': ('CdpReplica',),
    'CdpReplica': ('RecoveryPointObjectiveSeconds', 'RecoveryPointObjectiveMinutes', 'RPOSchedule', 'RPOReporting',
                   'ShortTermRetentionMinutes', 'ShortTermRetentionHours', 'LongTermRetentionHours', 'LongTermRetentionKeepDays',
                   'LongTermRetentionSchedule'),
    'RPOReporting': ('MarkAsWarning', 'MarkAsFailed'),
    'MarkAsWarning': ('Enabled', 'RPOThresholdSeconds', 'RPOThresholdMinutes'),
    'MarkAsFailed': ('Enabled', 'RPOThresholdSeconds', 'RPOThresholdMinutes'),
}
_POLICY_PATH = re.compile(r'(?i)^/api/cdppolicies/([^/?]+)$')
_TASK_PATH = re.compile(r'(?i)^/api/tasks/([^/?]+)$')


class BodyError(Exception):
    pass


class Task(object):
    def __init__(self, task_id, operation, policy_index, apply, failure):
        self.task_id = task_id
        self.operation = operation
        self.policy_index = policy_index
        self.apply = apply
        self.failure = failure
        self.state = 'Running'
        self.polls = 0
        self.message = None
        self.success = None


def _local(tag):
    return tag.rpartition('}')[2]


def _xml_tree(element):
    """(tag, text or [children]) checking EM's element order at every level the simulator knows."""
    children = list(element)
    tag = _local(element.tag)
    if not children:
        return tag, (element.text or '').strip()
    order = ORDER.get(tag)
    last = -1
    result = []
    for child in children:
        name = _local(child.tag)
        if order is not None:
            if name not in order:
                raise BodyError('Element %s is not expected in %s.' % (name, tag))
            position = order.index(name)
            if position <= last:
                raise BodyError('Element %s in %s is out of order: expected the order %s.' % (name, tag, ', '.join(order)))
            last = position
        result.append(_xml_tree(child))
    return tag, result


def _to_dict(children):
    return dict((tag, _to_dict(value) if isinstance(value, list) else value) for tag, value in children)


def parse_body(body, content_type):
    """The PUT body as a dict of dicts (PascalCase keys); BodyError when EM would refuse it."""
    text = body.decode('utf-8-sig') if body else ''
    if not text.strip():
        raise BodyError('The request body is empty.')
    kind = (content_type or '').split(';', 1)[0].strip().lower()
    if kind == 'application/json':
        try:
            document = json.loads(text)
        except ValueError:
            raise BodyError('The request body is not valid JSON.')
        if not isinstance(document, dict):
            raise BodyError('The request body must be a CdpPolicy object.')
        return document
    if kind not in ('application/xml', 'text/xml'):
        raise BodyError('Content-Type %s is not supported: use application/xml or application/json.' % (content_type or '(none)'))
    if '<!DOCTYPE' in text or '<!ENTITY' in text:
        raise BodyError('DTDs are not allowed.')
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise BodyError('The request body is not well-formed XML: %s' % exc)
    if _local(root.tag) != 'CdpPolicy' or not root.tag.startswith('{%s}' % render.NS):
        raise BodyError('Node [root] does not exist.')
    tag, children = _xml_tree(root)
    document = _to_dict(children) if isinstance(children, list) else {}
    document.update(root.attrib)
    return document


def _get(mapping, name):
    if not isinstance(mapping, dict):
        return None
    for key, value in mapping.items():
        if key.lower() == name.lower():
            return value
    return None


def _number(value, where):
    if isinstance(value, bool):
        raise BodyError('%s must be a whole number.' % where)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not re.match(r'^\d{1,9}$', text):
            raise BodyError('%s must be a whole number, not %r.' % (where, value))
        number = int(text)
    if number < 0:
        raise BodyError('%s must not be negative.' % where)
    return number


def _bool(value, where):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ('true', 'false'):
        raise BodyError('%s must be true or false, not %r.' % (where, value))
    return text == 'true'


def _duration(node, seconds_key, minutes_key, where):
    seconds, minutes = _get(node, seconds_key), _get(node, minutes_key)
    if seconds is None and minutes is None:
        return None
    return _number(seconds or 0, where) + 60 * _number(minutes or 0, where)


def planned_changes(document):
    """{'rpo_seconds'?, 'warn_enabled'?, 'warn_seconds'?, 'fail_enabled'?, 'fail_seconds'?} of a PUT body; BodyError when refused."""
    replica = _get(_get(document, 'PolicyScheduleOptions'), 'CdpReplica') or {}
    changes = {}
    rpo = _duration(replica, 'RecoveryPointObjectiveSeconds', 'RecoveryPointObjectiveMinutes', 'RecoveryPointObjective')
    if rpo is not None:
        if not RPO_RANGE[0] <= rpo <= RPO_RANGE[1]:
            raise BodyError('The recovery point objective must be from 2 seconds to 60 minutes (got %d seconds).' % rpo)
        changes['rpo_seconds'] = rpo
    reporting = _get(replica, 'RPOReporting') or {}
    for element, prefix in (('MarkAsWarning', 'warn'), ('MarkAsFailed', 'fail')):
        level = _get(reporting, element)
        if not isinstance(level, dict):
            continue
        if _get(level, 'Enabled') is not None:
            changes[prefix + '_enabled'] = _bool(_get(level, 'Enabled'), element + '/Enabled')
        threshold = _duration(level, 'RPOThresholdSeconds', 'RPOThresholdMinutes', element + ' threshold')
        if threshold is not None:
            if threshold < 1:
                raise BodyError('The %s threshold must be at least 1 second.' % element)
            changes[prefix + '_seconds'] = threshold
    return changes


class PolicyService(object):
    """The policy resources and EM tasks of one Simulator."""

    def __init__(self, sim):
        self.sim = sim
        self.lock = threading.Lock()
        self.tasks = {}
        self.counter = 0
        self.running_polls = 1
        self.admins = set(user.lower() for user in DEFAULT_ADMINS)
        self.failures = []
        self.dataset = None

    @staticmethod
    def handles(lower_path):
        return lower_path.startswith('/api/cdppolicies/') or lower_path.startswith('/api/tasks/')

    # ------------------------------------------------------------------ requests
    def handle(self, req, session, error_class):
        path = req.path.rstrip('/')
        task_match = _TASK_PATH.match(path)
        if task_match:
            if req.method != 'GET':
                raise error_class(405, 'Method %s is not allowed for tasks in the simulator' % req.method)
            return self.sim.ok(req, self.poll(task_match.group(1), error_class))
        match = _POLICY_PATH.match(path)
        if not match:
            raise error_class(404, 'The resource %s is not available in the simulator' % req.path)
        index = self.policy_index(match.group(1), error_class)
        params = dict((key.lower(), value) for key, value in parse_qsl(req.query, keep_blank_values=True))
        if req.method == 'GET':
            rend = self.sim.renderer()
            if params.get('format', '').lower() == 'entity':
                return self.sim.ok(req, rend.policy_node(index))
            return self.sim.ok(req, self.reference(index))
        if req.method not in ('PUT', 'POST'):
            raise error_class(405, 'Method %s is not allowed for /cdpPolicies/{ID}' % req.method)
        if session.user.lower() not in self.admins:
            raise error_class(403, ACCESS_DENIED)
        if req.method == 'POST':
            action = params.get('action', '').lower()
            if action not in ('enable', 'disable'):
                raise error_class(400, 'Unknown action "%s" for a CDP policy: use enable or disable.' % params.get('action', ''))
            task = self.new_task('UpdateCdpPolicy', index, {'schedule_enabled': action == 'enable'})
        else:
            try:
                document = parse_body(req.body, req.header('Content-Type'))
                uid = _get(document, 'UID')
                if uid and uid.lower() != (UID_PREFIX + self.sim.dataset.policies[index]['guid']).lower():
                    raise BodyError('The UID in the body does not match the policy in the URL.')
                changes = planned_changes(document)
            except BodyError as exc:
                raise error_class(400, str(exc))
            task = self.new_task('EditCdpPolicy', index, changes)
        return self.sim.ok(req, self.task_node(task), 202)

    def policy_index(self, guid, error_class):
        ds = self.sim.dataset
        with self.lock:
            if self.dataset is not ds:  # data reset: the old tasks name policies that no longer exist
                self.dataset, self.tasks = ds, {}
        wanted = guid.lower()
        for index, policy in enumerate(ds.policies):
            if policy['guid'].lower() == wanted:
                return index
        raise error_class(404, 'CDP policy %s was not found.' % guid)

    def reference(self, index):
        ds = self.sim.dataset
        policy = ds.policies[index]
        server = ds.server_of_policy(policy)
        href = self.sim.href('/api/cdpPolicies/' + policy['guid'])
        return render.Node('EntityRef', [('Type', 'CdpPolicyReference'), ('Href', href), ('Name', policy['name']),
                                         ('UID', UID_PREFIX + policy['guid'])], [render.links_node([
                                             render.link('Up', self.sim.href('/api/backupServers/' + server['guid']), server['name'],
                                                         'BackupServerReference'),
                                             render.link('Alternate', href + '?format=Entity', policy['name'], 'CdpPolicy')])])

    # ------------------------------------------------------------------ tasks
    def new_task(self, operation, index, changes):
        policy = self.sim.dataset.policies[index]
        with self.lock:
            self.counter += 1
            task_id = 'task-%d' % self.counter
            failure = None
            for planned in list(self.failures):
                if planned['policy'].lower() in (policy['name'].lower(), (UID_PREFIX + policy['guid']).lower()):
                    failure = planned['message']
                    self.failures.remove(planned)
                    break
            task = Task(task_id, operation, index, changes, failure)
            self.tasks[task_id.lower()] = task
        return task

    def poll(self, task_id, error_class):
        with self.lock:
            task = self.tasks.get(task_id.lower())
            if task is None:
                raise error_class(404, 'Task %s was not found.' % task_id)
            task.polls += 1
            if task.state == 'OperationFinished':
                task.state, task.message = 'Finished', 'Ok'
            elif task.state == 'Running' and task.polls > self.running_polls:
                if task.failure is not None:
                    task.state, task.success, task.message = 'Finished', False, task.failure
                else:
                    self.carry_out(task)
                    task.state, task.success, task.message = 'OperationFinished', True, 'OperationFinished'
            return self.task_node(task)

    def carry_out(self, task):
        policy = self.sim.dataset.policies[task.policy_index]
        with self.sim.lock:
            # Thresholds are derived from the RPO until first set; keep them when the RPO changes.
            policy.setdefault('warn_seconds', policy['rpo_seconds'] * 2)
            policy.setdefault('fail_seconds', policy['rpo_seconds'] * 4)
            policy.update(task.apply)
            self.sim.version += 1
            self.sim.renderers = {}
            self.sim.counters['policy_changes'] += 1

    def task_node(self, task):
        href = self.sim.href('/api/tasks/' + task.task_id)
        children = [render.links_node([render.link('Delete', href, None, 'Task')]), render.Node('TaskId', value=task.task_id),
                    render.Node('State', value=task.state), render.Node('Operation', value=task.operation)]
        if task.success is not None:
            children.append(render.Node('Result', [('Success', task.success)], [render.Node('Message', value=task.message)]))
        return render.Node('Task', [('Type', 'Task'), ('Href', href)], children)

    # ------------------------------------------------------------------ control
    def control(self, method, payload):
        with self.lock:
            if method == 'POST':
                if 'running_polls' in payload:
                    value = payload['running_polls']
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        raise ValueError('running_polls must be a non-negative integer')
                    self.running_polls = value
                if 'admins' in payload:
                    self.admins = set(str(user).lower() for user in payload['admins'])
                for planned in payload.get('fail', []):
                    if not isinstance(planned, dict) or not planned.get('policy') or not planned.get('message'):
                        raise ValueError('each "fail" entry needs "policy" and "message"')
                    self.failures.append({'policy': str(planned['policy']), 'message': str(planned['message'])})
            return {'running_polls': self.running_polls, 'admins': sorted(self.admins), 'pending_failures': list(self.failures),
                    'tasks': [{'id': task.task_id, 'operation': task.operation, 'state': task.state, 'success': task.success,
                               'message': task.message, 'polls': task.polls,
                               'policy': self.sim.dataset.policies[task.policy_index]['name']} for task in self.tasks.values()]}
