"""The hostile-EM query answers (emsim/hostile.py QUERY_ACTIONS): endless and stuck paging (F4), control characters (F1)."""

import json
import xml.etree.ElementTree as ET

from simtestlib import NS

QUERY = '/api/query?type=CdpReplicaTaskSession&format=Entities&sortAsc=CreationTimeUTC&pageSize=5'
JSON = 'application/json'


def install(client, *faults):
    status, doc = client.control('POST', '/_sim/faults', {'faults': list(faults)})
    assert status == 200, doc


def _xml_page(client, token, page):
    root = ET.fromstring(client.get(QUERY + '&page=%d' % page, token)[2])
    return [e.get('UID') for e in root.iter(NS + 'CdpReplicaTaskSession')], root.find(NS + 'PagingInfo')


def _json_page(client, token, page):
    doc = json.loads(client.get(QUERY + '&page=%d' % page, token, accept=JSON)[2])
    items = doc['Entities']['CdpReplicaTaskSessions']['CdpReplicaTaskSessions']
    return items, doc.get('PagingInfo')


def test_endless_serves_new_records_and_a_growing_page_count(client, token):
    first, dummy = _xml_page(client, token, 1)
    install(client, {'on': 'query', 'action': 'endless', 'times': -1})
    seen = set()
    # The Nth answer announces N + 1 pages and brings new records, whichever page is asked for.
    for answer, page in enumerate((1, 2, 7, 1), start=1):
        uids, paging = _xml_page(client, token, page)
        assert paging.get('PagesCount') == str(answer + 1) and paging.get('PageNum') == str(page)
        assert uids == (first if answer == 1 else [uid + '-n%d' % answer for uid in first])
        assert not seen & set(uids)
        seen |= set(uids)
    items, paging = _json_page(client, token, 3)
    assert paging['PagesCount'] == 6 and [item['UID'] for item in items] == [uid + '-n5' for uid in first]
    client.control('DELETE', '/_sim/faults')
    uids, paging = _xml_page(client, token, 1)
    assert uids == first and paging.get('PagesCount') != '7'


def test_stuck_repeats_page_one_without_paging_info(client, token):
    first, dummy = _xml_page(client, token, 1)
    install(client, {'on': 'query', 'action': 'stuck', 'times': -1})
    for page in (1, 2, 50):
        uids, paging = _xml_page(client, token, page)
        assert uids == first and paging is None
    items, paging = _json_page(client, token, 9)
    assert [item['UID'] for item in items] == first and paging is None


def test_control_chars_in_json_names_and_reasons(client, token):
    install(client, {'on': 'query', 'action': 'control_chars', 'times': -1})
    items, paging = _json_page(client, token, 1)
    assert paging['PageNum'] == 1 and items
    for item in items:
        assert item['VmDisplayName'].startswith('\x00\x08\x1b[31m\x7f\x9b31m')
        assert item['Name'].startswith('\x00\x08\x1b[31m\x7f\x9b31m')
        assert item['Reason'] is None or item['Reason'].startswith('\x00\x08\x1b[31m')


def test_control_chars_in_xml_stay_well_formed_with_del_and_c1(client, token):
    install(client, {'on': 'query', 'action': 'control_chars', 'times': -1})
    body = client.get(QUERY + '&page=1', token)[2]
    root = ET.fromstring(body)  # well-formed: only characters XML 1.0 allows
    tasks = list(root.iter(NS + 'CdpReplicaTaskSession'))
    assert tasks and b'\x00' not in body and b'\x1b' not in body
    for task in tasks:
        assert task.get('VmDisplayName').startswith('\x7f\x9b31m\x7f\x9b0m')
        reason = task.find(NS + 'Reason')
        assert reason is None or not reason.text or reason.text.startswith('\x7f\x9b31m')


def test_unfaulted_answers_carry_no_control_characters(client, token):
    items, dummy = _json_page(client, token, 1)
    assert not any(ch in item['VmDisplayName'] for item in items for ch in '\x00\x1b\x7f')
