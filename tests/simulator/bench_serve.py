#!/usr/bin/env python
"""Measure how fast the simulator serves a large CDP task-session result over TLS on loopback.

Starts em_simulator.py as a separate process (so client and server do not share a GIL),
logs on, and fetches every page of a ~100,000-record result with http.client keep-alive.
Prints generation time, cold pass (first render) and warm pass (cached fragments) figures.

    bench_serve.py [--vms 1100] [--page-size 1000] [--accept application/xml]
"""

import argparse
import base64
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
NS = '{http://www.veeam.com/ent/v1.0}'


def fetch_all(conn, token, page_size, accept, parse):
    base = '/api/query?type=CdpReplicaTaskSession&format=Entities&sortAsc=CreationTimeUTC&pageSize=%d' % page_size
    page, pages, records, size = 1, 1, 0, 0
    while page <= pages:
        conn.request('GET', base + '&page=%d' % page, headers={'X-RestSvcSessionId': token, 'Accept': accept})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit('page %d: HTTP %d %r' % (page, resp.status, body[:200]))
        size += len(body)
        if page > 1 and not parse:
            records += body.count(b'"UID"' if accept == 'application/json' else b'<CdpReplicaTaskSession ')
        elif accept == 'application/json':
            doc = json.loads(body)
            pages = doc['PagingInfo']['PagesCount']
            records += len(doc['Entities']['CdpReplicaTaskSessions']['CdpReplicaTaskSessions'] or [])
        else:
            root = ET.fromstring(body)
            pages = int(root.find(NS + 'PagingInfo').get('PagesCount'))
            records += len(root.findall('.//' + NS + 'CdpReplicaTaskSession'))
        page += 1
    return pages, records, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--vms', type=int, default=1100)
    parser.add_argument('--page-size', type=int, default=1000)
    parser.add_argument('--accept', default='application/xml', choices=('application/xml', 'application/json'))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='emsim-bench-')
    port_file = os.path.join(work, 'port')
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'em_simulator.py'), '--tls', '--cert-dir',
                             os.path.join(work, 'certs'), '--port-file', port_file, '--vms', str(args.vms)],
                            stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()
        startup = time.monotonic() - started
        port = int(open(port_file, encoding='ascii').read())
        ctx = ssl.create_default_context(cafile=os.path.join(work, 'certs', 'ca.pem'))
        conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=120)
        auth = base64.b64encode(b'EMLAB\\auditor:S3cret!pass').decode()
        conn.request('POST', '/api/sessionMngr/?v=latest', headers={'Authorization': 'Basic ' + auth})
        resp = conn.getresponse()
        resp.read()
        token = resp.getheader('X-RestSvcSessionId')
        print('startup incl. data generation (%d VMs): %.2f s' % (args.vms, startup))
        for label, parse in (('cold, client parses', True), ('warm, client parses', True), ('warm, read only', False)):
            t0 = time.monotonic()
            pages, records, size = fetch_all(conn, token, args.page_size, args.accept, parse)
            elapsed = time.monotonic() - t0
            print('%s pass: %d records in %d pages (%.1f MB %s) in %.2f s = %.0f records/s, %.1f ms/page'
                  % (label, records, pages, size / 1e6, args.accept.split('/')[1], elapsed, records / elapsed,
                     1000 * elapsed / max(pages, 1)))
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        proc.stdout.close()


if __name__ == '__main__':
    main()
