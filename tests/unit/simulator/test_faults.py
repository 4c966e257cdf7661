"""Fault injection through /_sim/faults."""

import base64
import http.client
import json
import time
import xml.etree.ElementTree as ET

import pytest

from simtestlib import NS

QUERY = '/api/query?type=CdpReplicaTaskSession&format=Entities&sortAsc=CreationTimeUTC&pageSize=5'


def install(client, *faults):
    status, doc = client.control('POST', '/_sim/faults', {'faults': list(faults)})
    assert status == 200, doc


def test_status_fault_fires_once_after_skip(client, token):
    install(client, {'on': 'query', 'action': 'status', 'status': 503, 'after': 1})
    assert client.get(QUERY, token)[0] == 200
    status, _headers, body = client.get(QUERY, token)
    assert status == 503 and ET.fromstring(body).get('StatusCode') == '503'
    assert client.get(QUERY, token)[0] == 200
    assert client.control('GET', '/_sim/faults')[1]['faults'] == []


def test_fault_on_specific_page_forever_then_clear(client, token):
    install(client, {'on': 'query', 'page': 2, 'action': 'status', 'status': 500, 'times': -1})
    for dummy in range(2):
        assert client.get(QUERY + '&page=1', token)[0] == 200
        assert client.get(QUERY + '&page=2', token)[0] == 500
    client.control('DELETE', '/_sim/faults')
    assert client.get(QUERY + '&page=2', token)[0] == 200


def test_logon_and_logoff_faults(client):
    install(client, {'on': 'logon', 'action': 'status', 'status': 401})
    with pytest.raises(AssertionError):
        client.logon()
    token = client.logon()
    install(client, {'on': 'logoff', 'action': 'status', 'status': 500})
    sid = base64.b64decode(token).decode()
    assert client.request('DELETE', '/api/logonSessions/' + sid, {'X-RestSvcSessionId': token})[0] == 500
    assert client.request('DELETE', '/api/logonSessions/' + sid, {'X-RestSvcSessionId': token})[0] == 204


def test_reset_closes_connection(client, token):
    install(client, {'on': 'query', 'action': 'reset'})
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        client.get(QUERY, token)
    assert client.get(QUERY, token)[0] == 200


def test_delay(client, token):
    install(client, {'on': 'query', 'action': 'delay', 'delay_ms': 300})
    started = time.monotonic()
    assert client.get(QUERY, token)[0] == 200
    assert time.monotonic() - started >= 0.3


def test_expire_session(client, token):
    install(client, {'on': 'query', 'action': 'expire_session'})
    assert client.get(QUERY, token)[0] == 401
    assert client.get(QUERY, token)[0] == 401
    assert client.control('GET', '/_sim/state')[1]['open_sessions'] == 0


def test_raw_body(client, token):
    install(client, {'on': 'any', 'action': 'body', 'status': 502, 'body': 'upstream gone', 'content_type': 'text/plain'})
    status, headers, body = client.get(QUERY, token)
    assert (status, headers['content-type'], body) == (502, 'text/plain', b'upstream gone')


@pytest.mark.parametrize('action,check', [
    ('empty_body', lambda s, h, b: s == 200 and b == b''),
    ('doctype_entities', lambda s, h, b: b'<!ENTITY lol9' in b),
    ('external_entity', lambda s, h, b: b'SYSTEM "file:///etc/passwd"' in b),
    ('wrong_content_type', lambda s, h, b: h['content-type'].startswith('text/html') and b'<html>' in b),
    ('garbage_bytes', lambda s, h, b: s == 200 and len(b) == 512),
])
def test_pre_response_faults(client, token, action, check):
    install(client, {'on': 'query', 'action': action})
    status, headers, body = client.get(QUERY, token)
    assert check(status, headers, body)


def test_truncated_bodies(client, token):
    full = client.get(QUERY, token)[2]
    install(client, {'on': 'query', 'action': 'truncated_xml'})
    body = client.get(QUERY, token, accept='application/json')[2]
    assert body.startswith(b'<QueryResult') and len(body) == len(full) // 2
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    install(client, {'on': 'query', 'action': 'truncated_json'})
    with pytest.raises(ValueError):
        json.loads(client.get(QUERY, token)[2])
    install(client, {'on': 'query', 'action': 'truncated_json', 'declare_full_length': True})
    with pytest.raises(http.client.IncompleteRead):
        client.get(QUERY, token)
    client.close()
    assert client.get(QUERY, token)[0] == 200


def _paging(body):
    return ET.fromstring(body).find(NS + 'PagingInfo')


def test_paging_faults(client, token):
    install(client, {'on': 'query', 'action': 'missing_paging_info'})
    assert _paging(client.get(QUERY, token)[2]) is None
    install(client, {'on': 'query', 'action': 'missing_paging_info'})
    assert 'PagingInfo' not in json.loads(client.get(QUERY, token, accept='application/json')[2])
    install(client, {'on': 'query', 'action': 'huge_pages_count'})
    assert _paging(client.get(QUERY, token)[2]).get('PagesCount') == '2147483647'
    install(client, {'on': 'query', 'action': 'negative_pages_count'})
    assert _paging(client.get(QUERY, token)[2]).get('PagesCount') == '-1'


def test_repeat_previous_page(client, token):
    def uids(body):
        return [e.get('UID') for e in ET.fromstring(body).iter(NS + 'CdpReplicaTaskSession')]
    page1 = uids(client.get(QUERY + '&page=1', token)[2])
    install(client, {'on': 'query', 'page': 2, 'action': 'repeat_previous_page'})
    body = client.get(QUERY + '&page=2', token)[2]
    assert uids(body) == page1 and _paging(body).get('PageNum') == '2'
    assert uids(client.get(QUERY + '&page=2', token)[2]) != page1


def test_bom_json(client, token):
    install(client, {'on': 'query', 'action': 'bom_json'})
    body = client.get(QUERY, token, accept='application/json')[2]
    assert body.startswith(b'\xef\xbb\xbf') and json.loads(body.decode('utf-8-sig'))['PagingInfo']


def test_invalid_fault_spec(client):
    for spec in ({'action': 'explode'}, {'action': 'status', 'on': 'never'}, {'action': 'status', 'times': 0}):
        assert client.control('POST', '/_sim/faults', {'faults': [spec]})[0] == 400


def test_faults_counted_in_state(client, token):
    install(client, {'on': 'any', 'action': 'status', 'status': 504, 'times': 2})
    assert client.get(QUERY, token)[0] == 504
    assert client.get('/api/', token)[0] == 504
    state = client.control('GET', '/_sim/state')[1]
    assert state['faults_fired'] == 2 and state['faults_pending'] == 0
