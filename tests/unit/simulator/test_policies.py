"""CDP policy resources and EM tasks of the simulator, over HTTP."""

import json
import xml.etree.ElementTree as ET

from simtestlib import NS

OPERATOR = ('EMLAB\\operator', '0perator!pass')
POLICY = '872a3860-3805-43b8-bcf6-388384bfed33'  # "CDP Policy": RPO 15 s, both reports on, enabled
BODY = ('<?xml version="1.0" encoding="utf-8"?>\n<CdpPolicy xmlns="http://www.veeam.com/ent/v1.0" Type="CdpPolicy">'
        '<PolicyScheduleOptions><CdpReplica><RecoveryPointObjectiveSeconds>0</RecoveryPointObjectiveSeconds>'
        '<RecoveryPointObjectiveMinutes>%d</RecoveryPointObjectiveMinutes></CdpReplica></PolicyScheduleOptions></CdpPolicy>')


def send(client, token, method, path, body=None, content_type='application/xml'):
    headers = {'X-RestSvcSessionId': token}
    if body is not None:
        headers['Content-Type'] = content_type
    status, _headers, data = client.request(method, path, headers, body.encode('utf-8') if body is not None else None)
    return status, data


def entity(client, token):
    status, _headers, body = client.get('/api/cdpPolicies/%s?format=Entity' % POLICY, token)
    assert status == 200
    return ET.fromstring(body)


def rpo_of(root):
    replica = root.find('%sPolicyScheduleOptions/%sCdpReplica' % (NS, NS))
    return int(replica.find(NS + 'RecoveryPointObjectiveSeconds').text) + 60 * int(replica.find(NS + 'RecoveryPointObjectiveMinutes').text)


def test_policy_reference_and_entity(client, token):
    status, _headers, body = client.get('/api/cdpPolicies/' + POLICY, token)
    root = ET.fromstring(body)
    assert status == 200 and root.tag == NS + 'EntityRef' and root.get('UID') == 'urn:veeam:CdpPolicy:' + POLICY
    root = entity(client, token)
    assert root.tag == NS + 'CdpPolicy' and rpo_of(root) == 15
    assert client.get('/api/cdpPolicies/00000000-0000-0000-0000-000000000000', token)[0] == 404


def test_put_is_a_task_that_runs_then_finishes(client, server):
    token = client.logon(*OPERATOR)
    status, body = send(client, token, 'PUT', '/api/cdpPolicies/' + POLICY, BODY % 2)
    task = ET.fromstring(body)
    assert status == 202 and task.find(NS + 'State').text == 'Running' and task.find(NS + 'Operation').text == 'EditCdpPolicy'
    path = '/api/tasks/' + task.find(NS + 'TaskId').text
    states = []
    for dummy in range(3):
        root = ET.fromstring(client.get(path, token)[2])
        states.append(root.find(NS + 'State').text)
        if states[-1] == 'Running':
            assert rpo_of(entity(client, token)) == 15  # not carried out yet
    assert states == ['Running', 'OperationFinished', 'Finished']
    assert root.find(NS + 'Result').get('Success') == 'true' and root.find(NS + 'Result/' + NS + 'Message').text == 'Ok'
    assert rpo_of(entity(client, token)) == 120
    assert client.get('/api/tasks/task-99', token)[0] == 404


def test_json_body_and_action(client):
    token = client.logon(*OPERATOR)
    body = json.dumps({'PolicyScheduleOptions': {'CdpReplica': {'RPOReporting': {'MarkAsFailed': {'Enabled': 'false'}}}}})
    status, data = send(client, token, 'PUT', '/api/cdpPolicies/' + POLICY, body, 'application/json')
    assert status == 202
    status, data = send(client, token, 'POST', '/api/cdpPolicies/%s?action=disable' % POLICY)
    assert status == 202 and ET.fromstring(data).find(NS + 'Operation').text == 'UpdateCdpPolicy'
    for task in ('task-1', 'task-2'):
        for dummy in range(3):
            client.get('/api/tasks/' + task, token)
    root = entity(client, token)
    assert root.find(NS + 'ScheduleEnabled').text == 'false' and root.find(NS + 'NextRun') is None
    failed = root.find('%sPolicyScheduleOptions/%sCdpReplica/%sRPOReporting/%sMarkAsFailed' % (NS, NS, NS, NS))
    assert failed.find(NS + 'Enabled').text == 'false' and failed.find(NS + 'RPOThresholdSeconds').text == '0'
    assert failed.find(NS + 'RPOThresholdMinutes').text == '1'  # the threshold (60 s) kept


def test_refusals(client, token):
    assert send(client, token, 'PUT', '/api/cdpPolicies/' + POLICY, BODY % 2)[0] == 403  # the auditor is not an administrator
    admin = client.logon(*OPERATOR)
    swapped = BODY.replace('<RecoveryPointObjectiveSeconds>0</RecoveryPointObjectiveSeconds>', '').replace(
        '</CdpReplica>', '<RecoveryPointObjectiveSeconds>0</RecoveryPointObjectiveSeconds></CdpReplica>')
    status, body = send(client, admin, 'PUT', '/api/cdpPolicies/' + POLICY, swapped % 2)
    assert status == 400 and 'out of order' in ET.fromstring(body).get('Message')
    status, body = send(client, admin, 'PUT', '/api/cdpPolicies/' + POLICY, BODY % 61)
    assert status == 400 and 'from 2 seconds to 60 minutes' in ET.fromstring(body).get('Message')
    assert send(client, admin, 'PUT', '/api/cdpPolicies/' + POLICY, BODY % 2, 'text/plain')[0] == 400
    assert send(client, admin, 'POST', '/api/cdpPolicies/%s?action=start' % POLICY)[0] == 400
    assert rpo_of(entity(client, admin)) == 15


def test_control_plans_a_failed_task(client):
    status, state = client.control('POST', '/_sim/policy_tasks', {'fail': [{'policy': 'CDP Policy', 'message': 'Proxy unavailable'}]})
    assert status == 200 and state['pending_failures'] == [{'policy': 'CDP Policy', 'message': 'Proxy unavailable'}]
    token = client.logon(*OPERATOR)
    send(client, token, 'POST', '/api/cdpPolicies/%s?action=disable' % POLICY)
    root = ET.fromstring(client.get('/api/tasks/task-1', token)[2])
    root = ET.fromstring(client.get('/api/tasks/task-1', token)[2])
    assert root.find(NS + 'State').text == 'Finished' and root.find(NS + 'Result').get('Success') == 'false'
    assert root.find(NS + 'Result/' + NS + 'Message').text == 'Proxy unavailable'
    assert entity(client, token).find(NS + 'ScheduleEnabled').text == 'true'
    assert client.control('POST', '/_sim/policy_tasks', {'running_polls': -1})[0] == 400
