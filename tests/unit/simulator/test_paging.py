"""Paging arithmetic and links, sorting, empty results, drift between pages, golden seed comparison."""

import json
import os
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlsplit

import pytest

from simtestlib import NS

VM = 'fra-db-00006'   # a VM without anomalies in the realistic profile, seed 42
BASE = '/api/query?type=CdpReplicaTaskSession&format=Entities&filter=VmDisplayName==%22' + VM + '%22'


def _page(client, token, path):
    status, _headers, body = client.get(path, token)
    assert status == 200, body
    root = ET.fromstring(body)
    info = root.find(NS + 'PagingInfo')
    links = dict((link.get('Rel'), link.get('Href')) for link in info.find(NS + 'Links'))
    items = [e.get('UID') for e in root.iter(NS + 'CdpReplicaTaskSession')]
    return int(info.get('PageNum')), int(info.get('PageSize')), int(info.get('PagesCount')), links, items, body


def test_default_page_size_is_100(client, token):
    _num, size, count, links, items, _body = _page(client, token, '/api/query?type=CdpReplicaTaskSession&format=Entities')
    assert size == 100 and count > 1 and len(items) == 100
    assert 'pageSize=100&page=1' in links['First']


def test_pages_and_links(server, client, token):
    assert VM not in server.sim.dataset.truth['anomalous_vms']
    total = len(_page(client, token, BASE + '&pageSize=1000')[4])
    assert total > 20
    size = 7
    expected_pages = (total + size - 1) // size
    seen = []
    for page in range(1, expected_pages + 1):
        num, psize, count, links, items, body = _page(client, token, BASE + '&sortAsc=CreationTimeUTC&pageSize=%d&page=%d' % (size, page))
        assert (num, psize, count) == (page, size, expected_pages)
        assert set(links) == {'First', 'Last'} | ({'Previous'} if page > 1 else set()) | ({'Next'} if page < count else set())
        if 'Next' in links:
            query = dict(parse_qsl(urlsplit(links['Next']).query))
            assert query['page'] == str(page + 1) and query['pageSize'] == str(size)
            assert query['filter'] == 'VmDisplayName=="%s"' % VM and query['sortAsc'] == 'CreationTimeUTC'
            assert query['type'] == 'CdpReplicaTaskSession' and query['format'] == 'Entities'
        assert links['Last'].endswith('&page=%d' % expected_pages)
        assert b'&amp;pageSize=' in body          # '&' escaped inside XML attributes
        seen.extend(items)
    assert len(seen) == total == len(set(seen))
    # a page past the end is empty, not an error
    assert _page(client, token, BASE + '&pageSize=%d&page=%d' % (size, expected_pages + 1))[4] == []


def test_links_encode_filter_form_style(client, token):
    path = '/api/query?type=CdpReplicaTaskSession&format=Entities&filter=VmDisplayName==%22Finance+DB+01%22&pageSize=5'
    links = _page(client, token, path)[3]
    assert 'filter=VmDisplayName%3d%3d%22Finance+DB+01%22&pageSize=5&page=1' in links['First']
    assert links['First'].startswith('https://localhost:9398/api/query?type=CdpReplicaTaskSession&format=Entities&')


@pytest.mark.parametrize('params', ['pageSize=0', 'pageSize=-1', 'pageSize=abc', 'page=0', 'page=x', 'pageSize=1.5'])
def test_bad_paging_params(client, token, params):
    assert client.get(BASE + '&' + params, token)[0] == 400


def test_max_page_size(client, token):
    client.control('POST', '/_sim/config', {'max_page_size': 50})
    assert client.get(BASE + '&pageSize=51', token)[0] == 400
    assert client.get(BASE + '&pageSize=50', token)[0] == 200


def test_empty_result_xml_and_json(client, token):
    path = '/api/query?type=CdpReplicaTaskSession&format=Entities&filter=VmDisplayName==nobody'
    body = client.get(path, token)[2]
    root = ET.fromstring(body)
    assert root.find(NS + 'PagingInfo').get('PagesCount') == '0'
    wrapper = root.find(NS + 'Entities/' + NS + 'CdpReplicaTaskSessions')
    assert wrapper is not None and len(wrapper) == 0
    doc = json.loads(client.get(path, token, accept='application/json')[2])
    assert doc['Entities']['CdpReplicaTaskSessions'] == {'CdpReplicaTaskSessions': None}
    assert doc['PagingInfo']['PagesCount'] == 0
    client.control('POST', '/_sim/config', {'empty_pages_count': 1})
    assert json.loads(client.get(path, token, accept='application/json')[2])['PagingInfo']['PagesCount'] == 1
    refs = json.loads(client.get('/api/query?type=CdpReplicaTaskSession&filter=VmDisplayName==nobody', token,
                                 accept='application/json')[2])
    assert refs['Refs'] == {'Refs': None}


def _times(body):
    return [e.text for e in ET.fromstring(body).iter(NS + 'CreationTimeUTC')]


def test_sorting(client, token):
    asc = _times(client.get(BASE + '&sortAsc=creationtimeutc&pageSize=500', token)[2])
    desc = _times(client.get(BASE + '&sortDesc=CreationTimeUTC&pageSize=500', token)[2])
    assert asc == sorted(asc) and desc == list(reversed(asc))
    by_end = ET.fromstring(client.get(BASE + '&sortAsc=EndTimeUTC&pageSize=500', token)[2])
    first = by_end.find('.//' + NS + 'CdpReplicaTaskSession')
    assert first.find(NS + 'EndTimeUTC') is None    # NULLs first, as SQL Server sorts them
    client.control('POST', '/_sim/config', {'default_order': 'uid'})
    uids = [e.get('UID') for e in ET.fromstring(client.get(BASE + '&pageSize=500', token)[2]).iter(NS + 'CdpReplicaTaskSession')]
    assert uids == sorted(uids)


def test_insert_between_pages(client, token):
    client.control('POST', '/_sim/config', {'insert_between_pages': 3})
    path = '/api/query?type=CdpReplicaTaskSession&format=Entities&sortAsc=CreationTimeUTC&pageSize=1000'
    count1 = _page(client, token, path + '&page=1')[2]
    before = client.control('GET', '/_sim/state')[1]['records']['CdpReplicaTaskSession']
    _num, _size, _count, _links, items, _body = _page(client, token, path + '&page=%d' % count1)
    after = client.control('GET', '/_sim/state')[1]
    assert after['records']['CdpReplicaTaskSession'] == before + 3 and after['inserted_tasks'] == 6
    newest = ET.fromstring(client.get('/api/query?type=CdpReplicaTaskSession&format=Entities&sortDesc=CreationTimeUTC'
                                      '&pageSize=3', token)[2])
    states = [e.find(NS + 'State').text for e in newest.iter(NS + 'CdpReplicaTaskSession')]
    assert states == ['InProgress'] * 3
    assert items


def _canonical(elem):
    return (elem.tag, sorted(elem.attrib.items()), (elem.text or '').strip(), [_canonical(child) for child in elem])


def test_seed_golden_query(server, client, token):
    """Veeam's doc example request gives the doc example's entities, element by element."""
    seed_path = os.path.join(os.path.dirname(__file__), 'fixtures', 'seed_cdp_task_query.xml')
    with open(seed_path, encoding='utf-8') as handle:
        seed_text = handle.read()
    # The doc example's PagingInfo links are not well-formed XML (bare '&', '"' inside Href):
    # compare its attributes and link relations textually, and parse the rest.
    paging = re.search(r'<PagingInfo (.*?)>(.*?)</PagingInfo>', seed_text, re.S)
    seed_paging_attrs = dict(re.findall(r'(\w+)="(\d+)"', paging.group(1)))
    seed_rels = re.findall(r'Rel="(\w+)"', paging.group(2))
    seed = ET.fromstring(seed_text[:paging.start()] + seed_text[paging.end():])
    request = ('/api/query?type=CdpReplicaTaskSession&format=Entities&filter=CreationTimeUTC>="2021-06-15";'
               'CreationTimeUTC<="2021-06-16";VmDisplayName=="virt03-ubuntu01"')
    status, headers, body = client.get(request, token)
    assert status == 200 and headers['content-type'].startswith('application/xml')
    ours = ET.fromstring(body)
    assert _canonical(ours.find(NS + 'Entities')) == _canonical(seed.find(NS + 'Entities'))
    info = ours.find(NS + 'PagingInfo')
    assert info.attrib == seed_paging_attrs
    assert [link.get('Rel') for link in info.find(NS + 'Links')] == seed_rels
    assert server.sim.dataset.truth['fixture']['vm'] == 'virt03-ubuntu01'
