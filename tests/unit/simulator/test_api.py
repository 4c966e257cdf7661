"""Discovery, logon/logoff, session expiry, formats and error bodies."""

import base64
import json
import time
import xml.etree.ElementTree as ET

from simtestlib import NS

TASKS = '/api/query?type=CdpReplicaTaskSession&format=Entities'


def test_discovery_needs_no_auth(client):
    status, headers, body = client.get('/api/')
    assert status == 200 and headers['content-type'].startswith('application/xml')
    root = ET.fromstring(body)
    assert [v.get('Name') for v in root.iter(NS + 'SupportedVersion')] == ['v1_5', 'v1_6', 'v1_7']
    rels = [(link.get('Rel'), link.get('Href')) for link in root.find(NS + 'Links')]
    assert ('Create', 'https://localhost:9398/api/sessionMngr/?v=latest') in rels


def test_logon_xml_body_header_and_cookie(client):
    auth = base64.b64encode(b'EMLAB\\auditor:S3cret!pass').decode()
    status, headers, body = client.request('POST', '/api/sessionMngr/?v=latest', {'Authorization': 'Basic ' + auth})
    assert status == 201
    root = ET.fromstring(body)
    sid = root.find(NS + 'SessionId').text
    assert base64.b64decode(headers['x-restsvcsessionid']).decode() == sid
    assert headers['set-cookie'] == 'X-RestSvcSessionId=%s; Path=/api;' % headers['x-restsvcsessionid']
    assert root.find(NS + 'UserName').text == 'EMLAB\\auditor'
    delete = [link.get('Href') for link in root.find(NS + 'Links') if link.get('Rel') == 'Delete']
    assert delete == ['https://localhost:9398/api/logonSessions/' + sid]


def test_logon_json_and_upn_alias(client):
    auth = base64.b64encode(b'auditor@emlab.local:S3cret!pass').decode()
    status, _headers, body = client.request('POST', '/api/sessionMngr/?v=v1_7',
                                            {'Authorization': 'Basic ' + auth, 'Accept': 'application/json'})
    doc = json.loads(body)
    assert status == 201 and doc['UserName'] == 'EMLAB\\auditor' and doc['Type'] == 'LogonSession'
    assert any(link['Rel'] == 'Delete' for link in doc['Links'])


def test_bad_credentials(client):
    auth = base64.b64encode(b'EMLAB\\auditor:wrong').decode()
    for headers in ({'Authorization': 'Basic ' + auth}, {}):
        status, resp_headers, body = client.request('POST', '/api/sessionMngr/?v=latest', headers)
        assert status == 401
        assert resp_headers['www-authenticate'] == 'Basic Realm=RestSvc'
        err = ET.fromstring(body)
        assert err.tag == NS + 'Error' and err.get('StatusCode') == '401'


def test_unsupported_or_missing_version(client):
    auth = {'Authorization': 'Basic ' + base64.b64encode(b'EMLAB\\auditor:S3cret!pass').decode(),
            'Accept': 'application/json'}
    for path in ('/api/sessionMngr/?v=v1_4', '/api/sessionMngr/'):
        status, _headers, body = client.request('POST', path, auth)
        doc = json.loads(body)
        assert status == 400 and doc['StatusCode'] == 400 and doc['FirstChanceExceptionMessage'] is None


def test_v1_5_session_rejects_cdp_types(client):
    token = client.logon(version='v1_5')
    status, _headers, body = client.get(TASKS, token)
    assert status == 400 and b'v1_5' in body
    assert client.get('/api/query?type=BackupJobSession', token)[0] == 200


def test_missing_invalid_token(client):
    assert client.get(TASKS)[0] == 401
    status, _headers, body = client.get(TASKS, 'bm9wZQ==', accept='application/json')
    assert status == 401 and json.loads(body)['StatusCode'] == 401


def test_cookie_wins_over_header(client, token):
    status = client.get(TASKS, token, extra={'Cookie': 'X-RestSvcSessionId=c3RhbGU='})[0]
    assert status == 401
    other = client.logon()
    assert client.get(TASKS, 'c3RhbGU=', extra={'Cookie': 'X-RestSvcSessionId=' + other})[0] == 200


def test_logoff_and_session_list(client, token):
    status, _headers, body = client.get('/api/logonSessions', token, accept='application/json')
    assert status == 200 and len(json.loads(body)['LogonSessions']) == 1
    sid = base64.b64decode(token).decode()
    status, headers, body = client.request('DELETE', '/api/logonSessions/' + sid, {'X-RestSvcSessionId': token})
    assert status == 204 and body == b'' and 'content-length' not in headers
    assert client.get(TASKS, token)[0] == 401
    state = client.control('GET', '/_sim/state')[1]
    assert state['open_sessions'] == 0 and state['logons'] == 1 and state['logoffs'] == 1


def test_get_unknown_logon_session_is_500(client, token):
    assert client.get('/api/logonSessions/00000000-0000-0000-0000-000000000000', token)[0] == 500


def test_idle_expiry(client, token):
    client.control('POST', '/_sim/config', {'idle_timeout': 0.3})
    assert client.get(TASKS + '&pageSize=1', token)[0] == 200
    time.sleep(0.2)
    assert client.get(TASKS + '&pageSize=1', token)[0] == 200   # activity refreshes the idle timer
    time.sleep(0.5)
    assert client.get(TASKS + '&pageSize=1', token)[0] == 401
    assert client.control('GET', '/_sim/state')[1]['expired_sessions'] == 1


def test_control_expire(client, token):
    second = client.logon()
    sid = base64.b64decode(second).decode()
    assert client.control('POST', '/_sim/expire', {'session_id': sid})[1] == {'expired': 1}
    assert client.get(TASKS, second)[0] == 401
    assert client.get(TASKS + '&pageSize=1', token)[0] == 200
    assert client.control('POST', '/_sim/expire', {})[1] == {'expired': 1}
    assert client.get(TASKS, token)[0] == 401


def test_json_anywhere_in_accept(client, token):
    status, headers, body = client.get(TASKS + '&pageSize=2', token, accept='application/xml, text/xml, application/json')
    assert status == 200 and headers['content-type'] == 'application/json; charset=utf-8'
    doc = json.loads(body)
    assert set(doc) == {'Refs', 'Entities', 'Resources', 'Links', 'PagingInfo'}
    items = doc['Entities']['CdpReplicaTaskSessions']['CdpReplicaTaskSessions']
    assert len(items) == 2 and doc['Entities']['BackupJobSessions'] is None
    assert isinstance(items[0]['TotalSize'], int)
    assert client.get(TASKS + '&pageSize=2', token, accept='*/*')[1]['content-type'].startswith('application/xml')


def test_json_running_session_nulls(client, token):
    path = TASKS + '&filter=State==InProgress&pageSize=1'
    item = json.loads(client.get(path, token, accept='application/json')[2])['Entities']['CdpReplicaTaskSessions'][
        'CdpReplicaTaskSessions'][0]
    assert item['EndTimeUTC'] is None and item['Reason'] is None and item['Result'] == 'Success'
    assert {link['Rel'] for link in item['Links']} == {'Up', 'Alternate'}
    xml_item = ET.fromstring(client.get(path, token)[2]).find('.//' + NS + 'CdpReplicaTaskSession')
    assert xml_item.find(NS + 'EndTimeUTC') is None and xml_item.find(NS + 'Reason') is None


def test_policy_sessions_use_cdppolicysession_key(client, token):
    doc = json.loads(client.get('/api/query?type=cdpreplicasession&format=entities&pageSize=3', token,
                                accept='application/json')[2])
    inner = doc['Entities']['CdpReplicaSessions']
    assert list(inner) == ['CdpPolicySessions'] and inner['CdpPolicySessions'][0]['Type'] == 'CdpReplicaSession'
    root = ET.fromstring(client.get('/api/query?type=CdpReplicaSession&format=Entities&filter=State==Working', token)[2])
    working = root.findall('.//' + NS + 'CdpPolicySession')
    assert working and all(item.find(NS + 'Result').text == 'None' for item in working)
    assert all(item.find(NS + 'FailureMessage') is not None for item in working)


def test_cdp_policy_entities(client, token):
    root = ET.fromstring(client.get('/api/query?type=CdpPolicy&format=Entities', token)[2])
    policies = root.findall('.//' + NS + 'CdpPolicy')
    assert len(policies) == 8
    enabled = [p.find(NS + 'ScheduleEnabled').text for p in policies]
    assert enabled.count('false') == 1
    rpos = set()
    for pol in policies:
        opts = pol.find(NS + 'PolicyScheduleOptions/' + NS + 'CdpReplica')
        rpos.add(int(opts.find(NS + 'RecoveryPointObjectiveSeconds').text) + 60 * int(opts.find(NS + 'RecoveryPointObjectiveMinutes').text))
        assert opts.find(NS + 'RPOReporting/' + NS + 'MarkAsWarning/' + NS + 'Enabled') is not None
    assert rpos == {15, 60, 300, 900}
    status, _headers, body = client.get('/api/query?type=CdpPolicy&format=Entities&filter=ScheduleEnabled==false', token)
    assert status == 200 and len(ET.fromstring(body).findall('.//' + NS + 'CdpPolicy')) == 1
    includes = [o.find(NS + 'Name').text for o in root.iter(NS + 'ObjectInJob')]
    assert len(includes) == 40


def test_camel_case_and_bom(client, token):
    client.control('POST', '/_sim/config', {'json_case': 'camel', 'json_bom': True})
    status, _headers, body = client.get(TASKS + '&pageSize=1', token, accept='application/json')
    assert status == 200 and body.startswith(b'\xef\xbb\xbf')
    doc = json.loads(body.decode('utf-8-sig'))
    item = doc['entities']['cdpReplicaTaskSessions']['cdpReplicaTaskSessions'][0]
    assert {'uid', 'creationTimeUTC', 'vmDisplayName', 'policySessionUid', 'links'} <= set(item)
    assert doc['pagingInfo']['pagesCount'] >= 1
    pol = json.loads(client.get('/api/query?type=CdpPolicy&format=Entities', token,
                                accept='application/json')[2].decode('utf-8-sig'))['entities']['cdpPolicies']['cdpPolicies'][0]
    assert 'rpoReporting' in pol['policyScheduleOptions']['cdpReplica']
    err = json.loads(client.get(TASKS, 'bad', accept='application/json')[2].decode('utf-8-sig'))
    assert err['statusCode'] == 401 and 'firstChanceExceptionMessage' in err


def test_query_errors(client, token):
    cases = ['/api/query?type=Nope', '/api/query', TASKS + '&filter=Result==Failed', TASKS + '&filter=(State==x',
             TASKS + '&sortAsc=Bogus', '/api/query?type=CdpReplicaTaskSession&format=Entity',
             TASKS + '&sortAsc=Name&sortDesc=Name', TASKS + '&pageSize=1&pageSize=2']
    for path in cases:
        status, _headers, body = client.get(path, token)
        assert status == 400, path
        err = ET.fromstring(body)
        assert err.get('StatusCode') == '400' and err.get('Message')
    msg = ET.fromstring(client.get(TASKS + '&filter=Result==Failed', token)[2]).get('Message')
    assert 'Result' in msg


def test_filter_form_decoding_plus_is_space(client, token):
    quoted = '%22Finance+DB+01%22'
    status, _headers, body = client.get(TASKS + '&filter=VmDisplayName==' + quoted, token)
    assert status == 200 and ET.fromstring(body).findall('.//' + NS + 'CdpReplicaTaskSession')
    status, _headers, body = client.get(TASKS + '&filter=VmDisplayName==%22web%3B01%2Ca%2Bb%22', token)
    names = {e.get('VmDisplayName') for e in ET.fromstring(body).iter(NS + 'CdpReplicaTaskSession')}
    assert names == {'web;01,a+b'}
    status, _headers, body = client.get(TASKS + '&filter=VmDisplayName==%22web%3B01%2Ca+b%22', token)
    assert ET.fromstring(body).findall('.//' + NS + 'CdpReplicaTaskSession') == []


def test_quote_in_vm_name(client, token):
    status, _headers, body = client.get(TASKS + '&filter=VmDisplayName==%22o%22%22brien-APP%22', token)
    names = {e.get('VmDisplayName') for e in ET.fromstring(body).iter(NS + 'CdpReplicaTaskSession')}
    assert status == 200 and names == {'O"Brien-app'}


def test_references_format(client, token):
    root = ET.fromstring(client.get('/api/query?type=CdpReplicaTaskSession&pageSize=2', token)[2])
    refs = root.findall(NS + 'Refs/' + NS + 'Ref')
    assert len(refs) == 2 and refs[0].get('Type') == 'CdpReplicaTaskSessionReference'
    assert refs[0].get('UID').startswith('urn:veeam:CdpReplicaTaskSession:')
    doc = json.loads(client.get('/api/query?type=CdpReplicaTaskSession&pageSize=2', token, accept='application/json')[2])
    assert len(doc['Refs']['Refs']) == 2 and doc['Entities'] is None


def test_unknown_api_resource_and_control_404(client, token):
    assert client.get('/api/cdpPolicies', token)[0] == 404
    assert client.control('GET', '/_sim/nothing')[0] == 404


def test_state_counts(client, token):
    client.get(TASKS, token)
    state = client.control('GET', '/_sim/state')[1]
    assert state['requests']['query'] == 1 and state['requests']['logon'] == 1
    assert state['records']['CdpPolicy'] == 8 and state['open_sessions'] == 1
    assert state['config']['idle_timeout'] == 900.0
