"""POST /_sim/complete: completing a running task session, as EM records a completion (tests/eda, the event source)."""

import json

from emsim import data as simdata


def query_task(client, token, uid):
    status, _headers, body = client.get('/api/query?type=CdpReplicaTaskSession&format=Entities&filter=Id%3D%3D%22' + uid + '%22',
                                        token=token, accept='application/json')
    assert status == 200
    return json.loads(body.decode('utf-8'))['Entities']['CdpReplicaTaskSessions']['CdpReplicaTaskSessions']


def test_complete_newest_running_session_of_a_vm(server, client, token):
    vm = server.sim.dataset.vm_names[0]
    # Rendered (and cached) once before the change: the answer afterwards must show the new state.
    status, before = client.control('POST', '/_sim/complete', {'vm': vm, 'result': 'Warning', 'reason': 'RPO exceeded',
                                                               'end_time': '2025-06-20T12:05:00Z'})
    assert status == 200
    uid = 'urn:veeam:CdpReplicaTaskSession:' + before['completed']
    [record] = query_task(client, token, uid)
    assert (record['State'], record['Result'], record['Reason']) == ('Completed', 'Warning', 'RPO exceeded')
    assert record['EndTimeUTC'] == '2025-06-20T12:05:00Z'
    [successor] = query_task(client, token, 'urn:veeam:CdpReplicaTaskSession:' + before['successor'])
    assert (successor['State'], successor['VmDisplayName']) == ('InProgress', vm)
    assert simdata.parse_iso_us(successor['CreationTimeUTC']) > simdata.parse_iso_us(record['EndTimeUTC'])


def test_complete_by_uid_without_successor_and_errors(server, client, token):
    dataset = server.sim.dataset
    running = [rec for rec in dataset.tasks if rec[simdata.T_STATE] == 'InProgress']
    count = len(dataset.tasks)
    status, answer = client.control('POST', '/_sim/complete', {'uid': running[0][simdata.T_GUID], 'successor': False})
    assert status == 200 and answer['successor'] is None and len(dataset.tasks) == count
    [record] = query_task(client, token, 'urn:veeam:CdpReplicaTaskSession:' + running[0][simdata.T_GUID])
    assert record['Result'] == 'Failed'  # the default
    # Completed already, unknown keys, bad result, nothing named: 400 with the reason.
    for payload in ({'uid': running[0][simdata.T_GUID]}, {'vm': 'x', 'colour': 'red'}, {'vm': dataset.vm_names[1], 'result': 'Broken'}, {}):
        status, answer = client.control('POST', '/_sim/complete', payload)
        assert status == 400 and answer['error']
