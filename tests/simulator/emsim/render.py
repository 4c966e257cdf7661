"""XML and JSON representations of EM resources.

JSON follows the EM object model: XML attributes become keys, Links is an array of
{Rel, Href, Name, Type}, absent values are null, numbers/booleans are native.
``camel`` converts keys the way System.Text.Json's camelCase policy does (EM v13 regression).
"""

import json

from .data import (P_CREATED, P_ENDED, P_FAILURE, P_GUID, P_POLICY, P_PROGRESS, P_RESULT, P_RETRY,
                   P_STATE, T_CREATED, T_ENDED, T_GUID, T_PSESSION, T_REASON, T_RESULT, T_SIZE, T_STATE, T_VM, fmt_iso)

NS = 'http://www.veeam.com/ent/v1.0'
XML_CT = 'application/xml; charset=utf-8'
JSON_CT = 'application/json; charset=utf-8'
BOM = b'\xef\xbb\xbf'

# Entity-list keys present (null) in every JSON QueryResult "Entities" object; the order is not
# meaningful and the CDP ones are deliberately not first.
ENTITY_LIST_KEYS = (
    'AgentBackupJobs', 'AgentProtectionGroups', 'AgentRestorePoints', 'BackupFiles', 'BackupJobSessions',
    'BackupServers', 'BackupTaskSessions', 'Backups', 'CdpPolicies', 'CdpReplicaSessions',
    'CdpReplicaTaskSessions', 'CdpReplicas', 'CloudFailoverPlans', 'CloudGatewayPools', 'CloudGateways',
    'CloudHardwarePlans', 'CloudPublicIpAddresses', 'CloudReplicas', 'CloudSubtenants', 'CloudTenants',
    'CloudVmReplicaPoints', 'Credentials', 'DiscoveredComputers', 'FailoverPlans', 'FileServers',
    'HierarchyRoots', 'Jobs', 'ManagedServers', 'NasJobs', 'NasObjects', 'ObjectsInJobs', 'Passwords',
    'ReplicaJobSessions', 'ReplicaTaskSessions', 'Replicas', 'Repositories', 'RestorePoints', 'RestoreSessions',
    'VAppReplicaPoints', 'VAppRestorePoints', 'VmReplicaPoints', 'VmRestorePoints', 'WanAccelerators',
)


def camel_key(name):
    """System.Text.Json JsonNamingPolicy.CamelCase: UID->uid, CreationTimeUTC->creationTimeUTC."""
    if not name or not name[0].isupper():
        return name
    chars = list(name)
    for idx, char in enumerate(chars):
        if idx == 1 and not char.isupper():
            break
        has_next = idx + 1 < len(chars)
        if idx > 0 and has_next and not chars[idx + 1].isupper():
            if chars[idx + 1] == ' ':
                chars[idx] = char.lower()
            break
        chars[idx] = char.lower()
    return ''.join(chars)


def convert_keys(value, key_func):
    if isinstance(value, dict):
        return dict((key_func(key), convert_keys(item, key_func)) for key, item in value.items())
    if isinstance(value, list):
        return [convert_keys(item, key_func) for item in value]
    return value


def esc_attr(text):
    return (text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
            .replace('"', '&quot;').replace('\n', '&#xA;').replace('\r', '&#xD;').replace('\t', '&#x9;'))


def esc_text(text):
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def xml_value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


class Node(object):
    """Generic element: attributes (ordered), children, typed value; is_list marks list wrappers."""
    __slots__ = ('tag', 'attrs', 'children', 'value', 'is_list')

    def __init__(self, tag, attrs=None, children=None, value=None, is_list=False):
        self.tag = tag
        self.attrs = attrs or []
        self.children = children or []
        self.value = value
        self.is_list = is_list

    def to_xml(self, root=False):
        parts = ['<', self.tag]
        if root:
            parts.append(' xmlns="%s"' % NS)
        for key, val in self.attrs:
            if val is not None:
                parts.append(' %s="%s"' % (key, esc_attr(xml_value(val))))
        inner = ''.join(child.to_xml() for child in self.children if not (child.value is None and child.is_leaf()))
        if self.value is not None:
            inner += esc_text(xml_value(self.value))
        if not inner:
            parts.append(' />')
        else:
            parts.append('>%s</%s>' % (inner, self.tag))
        return ''.join(parts)

    def is_leaf(self):
        return not self.children and not self.attrs and not self.is_list

    def to_json(self):
        if self.is_list:
            return [child.to_json() for child in self.children] or None
        if self.is_leaf():
            return self.value
        obj = {}
        for child in self.children:
            obj[child.tag] = child.to_json()
        for key, val in self.attrs:
            obj[key] = val
        if self.value is not None:
            obj['Value'] = self.value
        return obj


def link(rel, href, name=None, ltype=None):
    return Node('Link', [('Rel', rel), ('Type', ltype), ('Href', href), ('Name', name)])


def links_node(items):
    return Node('Links', children=items, is_list=True)


def link_json(node):
    return {'Rel': dict(node.attrs)['Rel'], 'Href': dict(node.attrs)['Href'],
            'Name': dict(node.attrs)['Name'], 'Type': dict(node.attrs)['Type']}


def node_to_json(node):
    """Links lists become arrays of {Rel, Href, Name, Type}; everything else per Node.to_json."""
    if node.tag == 'Links' and node.is_list:
        return [link_json(child) for child in node.children]
    if node.is_list:
        return [node_to_json(child) for child in node.children] or None
    if node.is_leaf():
        return node.value
    obj = {}
    for child in node.children:
        obj[child.tag] = node_to_json(child)
    for key, val in node.attrs:
        obj[key] = val
    if node.value is not None:
        obj['Value'] = node.value
    return obj


class Renderer(object):
    """Renders records of one Dataset with one set of presentation options (cached per record)."""

    def __init__(self, dataset, base_url, camel=False, task_href_quirk=True, cache_records=400000):
        self.ds = dataset
        # Emptied when full: a read of more records than this renders every record again.
        self.cache_records = cache_records
        self.base = base_url.rstrip('/') + '/api'
        self.camel = camel
        self.task_href_quirk = task_href_quirk
        self.cache = {}

    def dumps(self, obj):
        if self.camel:
            obj = convert_keys(obj, camel_key)
        return json.dumps(obj, ensure_ascii=False, separators=(',', ':'))

    def key(self, name):
        return camel_key(name) if self.camel else name

    # ------------------------------------------------------------- task sessions
    def _task_common(self, rec):
        ds = self.ds
        guid = rec[T_GUID]
        psi = rec[T_PSESSION]
        policy = ds.policy_of_psession(psi)
        server = ds.server_of_policy(policy)
        return guid, ds.task_name(rec), ds.vm_names[rec[T_VM]], server, ds.psessions[psi][P_GUID], ds.psession_name(psi)

    def task_fragment(self, idx, fmt, as_json):
        ckey = (0, idx, fmt, as_json)
        frag = self.cache.get(ckey)
        if frag is None:
            if len(self.cache) > self.cache_records:
                self.cache.clear()
            rec = self.ds.tasks[idx]
            frag = self._task_entity(rec, as_json) if fmt == 'entities' else self._task_ref(rec, as_json)
            self.cache[ckey] = frag
        return frag

    def _task_links(self, guid, name, server, ps_guid, ps_name, alternate_entity):
        base = self.base
        links = [('Up', 'BackupServerReference', '%s/backupServers/%s' % (base, server['guid']), server['name']),
                 ('Up', 'CdpReplicaSessionReference', '%s/cdpReplicaSessions/%s' % (base, ps_guid), ps_name)]
        if alternate_entity:
            links.append(('Alternate', 'CdpReplicaTaskSession',
                          '%s/cdpReplicaTaskSessions/%s?format=Entity' % (base, guid), name))
        else:
            links.append(('Alternate', 'CdpReplicaTaskSessionReference', '%s/cdpReplicaTaskSessions/%s' % (base, guid), name))
        return links

    def _task_entity(self, rec, as_json):
        guid, name, vm, server, ps_guid, ps_name = self._task_common(rec)
        href_kind = 'replicaTaskSessions' if self.task_href_quirk else 'cdpReplicaTaskSessions'
        href = '%s/%s/%s?format=Entity' % (self.base, href_kind, guid)
        uid = 'urn:veeam:CdpReplicaTaskSession:' + guid
        links = self._task_links(guid, name, server, ps_guid, ps_name, False)
        created = fmt_iso(rec[T_CREATED])
        ended = fmt_iso(rec[T_ENDED]) if rec[T_ENDED] is not None else None
        if as_json:
            return self.dumps({
                'PolicySessionUid': 'urn:veeam:CdpReplicaSession:' + ps_guid, 'CreationTimeUTC': created,
                'EndTimeUTC': ended, 'State': rec[T_STATE], 'Result': rec[T_RESULT], 'Reason': rec[T_REASON] or None,
                'TotalSize': rec[T_SIZE], 'VmDisplayName': vm, 'Name': name, 'UID': uid,
                'Links': [{'Rel': rel, 'Href': lhref, 'Name': lname, 'Type': ltype} for rel, ltype, lhref, lname in links],
                'Href': href, 'Type': 'CdpReplicaTaskSession'})
        parts = ['<CdpReplicaTaskSession Type="CdpReplicaTaskSession" Href="%s" Name="%s" VmDisplayName="%s" UID="%s"><Links>'
                 % (esc_attr(href), esc_attr(name), esc_attr(vm), uid)]
        for rel, ltype, lhref, lname in links:
            parts.append('<Link Rel="%s" Type="%s" Href="%s" Name="%s" />' % (rel, ltype, esc_attr(lhref), esc_attr(lname)))
        parts.append('</Links><PolicySessionUid>urn:veeam:CdpReplicaSession:%s</PolicySessionUid>' % ps_guid)
        parts.append('<CreationTimeUTC>%s</CreationTimeUTC>' % created)
        if ended:
            parts.append('<EndTimeUTC>%s</EndTimeUTC>' % ended)
        parts.append('<State>%s</State><Result>%s</Result>' % (rec[T_STATE], rec[T_RESULT]))
        if rec[T_REASON]:
            parts.append('<Reason>%s</Reason>' % esc_text(rec[T_REASON]))
        parts.append('<TotalSize>%d</TotalSize></CdpReplicaTaskSession>' % rec[T_SIZE])
        return ''.join(parts)

    def _task_ref(self, rec, as_json):
        guid, name, _vm, server, ps_guid, ps_name = self._task_common(rec)
        links = self._task_links(guid, name, server, ps_guid, ps_name, True)
        return self._ref(as_json, 'CdpReplicaTaskSessionReference', '%s/cdpReplicaTaskSessions/%s' % (self.base, guid),
                         name, 'urn:veeam:CdpReplicaTaskSession:' + guid, links)

    def _ref(self, as_json, rtype, href, name, uid, links):
        if as_json:
            return self.dumps({'Links': [{'Rel': rel, 'Href': lhref, 'Name': lname, 'Type': ltype}
                                         for rel, ltype, lhref, lname in links],
                               'UID': uid, 'Name': name, 'Href': href, 'Type': rtype})
        parts = ['<Ref Type="%s" Href="%s" Name="%s" UID="%s"><Links>' % (rtype, esc_attr(href), esc_attr(name), esc_attr(uid))]
        for rel, ltype, lhref, lname in links:
            parts.append('<Link Rel="%s" Type="%s" Href="%s" Name="%s" />' % (rel, ltype, esc_attr(lhref), esc_attr(lname)))
        parts.append('</Links></Ref>')
        return ''.join(parts)

    # ------------------------------------------------------------- policy sessions
    def psession_fragment(self, idx, fmt, as_json):
        ckey = (1, idx, fmt, as_json)
        frag = self.cache.get(ckey)
        if frag is None:
            frag = self._psession(idx, fmt, as_json)
            self.cache[ckey] = frag
        return frag

    def _psession(self, idx, fmt, as_json):
        ds = self.ds
        rec = ds.psessions[idx]
        policy = ds.policies[rec[P_POLICY]]
        server = ds.server_of_policy(policy)
        guid = rec[P_GUID]
        name = ds.psession_name(idx)
        base = self.base
        uid = 'urn:veeam:CdpReplicaSession:' + guid
        up_links = [('Up', 'BackupServerReference', '%s/backupServers/%s' % (base, server['guid']), server['name']),
                    ('Up', 'CdpPolicyReference', '%s/cdpPolicies/%s' % (base, policy['guid']), policy['name'])]
        if fmt != 'entities':
            return self._ref(as_json, 'CdpReplicaSessionReference', '%s/cdpReplicaSessions/%s' % (base, guid), name, uid,
                             up_links + [('Alternate', 'CdpReplicaSession', '%s/cdpReplicaSessions/%s?format=Entity' % (base, guid), name)])
        links = up_links + [
            ('Alternate', 'CdpReplicaSessionReference', '%s/cdpReplicaSessions/%s' % (base, guid), name),
            ('Down', 'CdpReplicaTaskSessionReferenceList', '%s/cdpReplicaSessions/%s/cdpReplicaTaskSessions' % (base, guid), None)]
        node = Node('CdpPolicySession', [('Type', 'CdpReplicaSession'), ('Href', '%s/cdpReplicaSessions/%s?format=Entity' % (base, guid)),
                                         ('Name', name), ('UID', uid)], [
            links_node([link(rel, lhref, lname, ltype) for rel, ltype, lhref, lname in links]),
            Node('PolicyUid', value='urn:veeam:CdpPolicy:' + policy['guid']),
            Node('PolicyName', value=policy['name']),
            Node('PolicyType', value='CdpReplica'),
            Node('CreationTimeUTC', value=fmt_iso(rec[P_CREATED])),
            Node('EndTimeUTC', value=fmt_iso(rec[P_ENDED]) if rec[P_ENDED] is not None else None),
            Node('State', value=rec[P_STATE]),
            Node('Result', value=rec[P_RESULT]),
            Node('Progress', value=rec[P_PROGRESS]),
            Node('FailureMessage', value=rec[P_FAILURE]),
            Node('IsRetry', value=rec[P_RETRY]),
        ])
        return self.dumps(node_to_json(node)) if as_json else node.to_xml()

    # ------------------------------------------------------------- policies
    def policy_fragment(self, idx, fmt, as_json):
        ckey = (2, idx, fmt, as_json)
        frag = self.cache.get(ckey)
        if frag is None:
            frag = self._policy(idx, fmt, as_json)
            self.cache[ckey] = frag
        return frag

    def policy_node(self, idx, root_tag='CdpPolicy'):
        ds = self.ds
        pol = ds.policies[idx]
        server = ds.server_of_policy(pol)
        base = self.base
        guid = pol['guid']
        phref = '%s/cdpPolicies/%s' % (base, guid)
        links = [link('Up', '%s/backupServers/%s' % (base, server['guid']), server['name'], 'BackupServerReference'),
                 link('Alternate', phref, pol['name'], 'CdpPolicyReference'),
                 link('Edit', phref, pol['name'], 'CdpPolicyReference'),
                 link('Down', phref + '/includes', None, 'ObjectInJobList'),
                 link('Create', phref + '/includes', None, 'ObjectInJob'),
                 link('Down', phref + '/cdpReplicaSessions', None, 'CdpReplicaSessionReferenceList'),
                 link('Disable' if pol['schedule_enabled'] else 'Enable',
                      phref + ('?action=disable' if pol['schedule_enabled'] else '?action=enable'))]
        days = ('Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday')

        def periods(tag, mark):
            return Node(tag, [('Enabled', True)], [Node('TimePeriods', children=[
                Node('Day', [('Name', day)], value=','.join([mark] * 24)) for day in days], is_list=True)])

        def threshold(tag, enabled, seconds):
            return Node(tag, children=[Node('Enabled', value=enabled), Node('RPOThresholdSeconds', value=seconds % 60),
                                       Node('RPOThresholdMinutes', value=seconds // 60)])

        rpo = pol['rpo_seconds']
        includes = []
        for vm in pol['vms']:
            oij = '%08x-%04x-4%03x-a%03x-%012x' % ((vm * 2654435761) & 0xffffffff, idx, vm & 0xfff, idx, vm)
            includes.append(Node('ObjectInJob', [('Type', 'ObjectInJob'), ('Href', '%s/includes/%s' % (phref, oij))], [
                Node('ObjectInJobId', value=oij),
                Node('HierarchyObjRef', value='urn:VMware:Vm:45237d2c-c163-4cb1-9f6e-c9913cdea868.vm-%d' % (1000 + vm)),
                Node('Name', value=ds.vm_names[vm]),
                Node('DisplayName', value=ds.vm_names[vm])]))
        next_run = None if not pol['schedule_enabled'] else fmt_iso(ds.now_us + 15 * 1000000)
        return Node(root_tag, [('Type', 'CdpPolicy'), ('Href', phref + '?format=Entity'), ('Name', pol['name']),
                               ('UID', 'urn:veeam:CdpPolicy:' + guid)], [
            links_node(links),
            Node('PolicyType', value='CdpReplica'),
            Node('Platform', value='VMware'),
            Node('Description', value=pol['description']),
            Node('ScheduleConfigured', value=True),
            Node('ScheduleEnabled', value=pol['schedule_enabled']),
            Node('NextRun', value=next_run),
            Node('PolicyScheduleOptions', children=[Node('CdpReplica', children=[
                Node('RecoveryPointObjectiveSeconds', value=rpo % 60),
                Node('RecoveryPointObjectiveMinutes', value=rpo // 60),
                periods('RPOSchedule', '1'),
                Node('RPOReporting', children=[threshold('MarkAsWarning', pol['warn_enabled'], pol.get('warn_seconds', rpo * 2)),
                                               threshold('MarkAsFailed', pol['fail_enabled'], pol.get('fail_seconds', rpo * 4))]),
                Node('ShortTermRetentionMinutes', value=0),
                Node('ShortTermRetentionHours', value=4),
                Node('LongTermRetentionHours', value=8),
                Node('LongTermRetentionKeepDays', value=7),
                periods('LongTermRetentionSchedule', '2')])]),
            Node('CdpPolicyInfo', children=[Node('CdpReplicaPolicyInfo', children=[
                Node('Includes', children=includes, is_list=True)])]),
        ])

    def _policy(self, idx, fmt, as_json):
        pol = self.ds.policies[idx]
        if fmt != 'entities':
            server = self.ds.server_of_policy(pol)
            phref = '%s/cdpPolicies/%s' % (self.base, pol['guid'])
            return self._ref(as_json, 'CdpPolicyReference', phref, pol['name'], 'urn:veeam:CdpPolicy:' + pol['guid'],
                             [('Up', 'BackupServerReference', '%s/backupServers/%s' % (self.base, server['guid']), server['name']),
                              ('Alternate', 'CdpPolicy', phref + '?format=Entity', pol['name'])])
        node = self.policy_node(idx)
        return self.dumps(node_to_json(node)) if as_json else node.to_xml()


def error_body(status, message, reason, as_json, camel=False):
    """EM Error representation (XSD ErrorType); returns (bytes, content type)."""
    if as_json:
        obj = {'FirstChanceExceptionMessage': None, 'Message': message, 'StackTrace': None,
               'Status': reason, 'StatusCode': status}
        if camel:
            obj = convert_keys(obj, camel_key)
        return json.dumps(obj).encode('utf-8'), JSON_CT
    text = '<?xml version="1.0" encoding="utf-8"?>\n<Error xmlns="%s" Message="%s" StatusCode="%d" Status="%s" />' % (
        NS, esc_attr(message), status, esc_attr(reason))
    return text.encode('utf-8'), XML_CT


def document(node, as_json, camel=False):
    """Render a standalone resource Node as bytes."""
    if as_json:
        obj = node_to_json(node)
        if node.is_list:
            obj = {node.tag: obj}
        if camel:
            obj = convert_keys(obj, camel_key)
        return json.dumps(obj, ensure_ascii=False).encode('utf-8'), JSON_CT
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + node.to_xml(root=True)).encode('utf-8'), XML_CT
