"""Helpers shared by the EM simulator tests (imported by conftest.py and the test modules)."""

import base64
import http.client
import json
import os
import ssl
import sys

SIM_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', 'simulator'))
if SIM_DIR not in sys.path:
    sys.path.insert(0, SIM_DIR)

FIXED_NOW = '2025-06-20T12:00:00Z'
AUDITOR = ('EMLAB\\auditor', 'S3cret!pass')
NS = '{http://www.veeam.com/ent/v1.0}'


class Client(object):
    """Keep-alive HTTP(S) client; ``request`` returns (status, lower-cased headers, body bytes)."""

    def __init__(self, server):
        self.server = server
        self.conn = None

    def _connect(self):
        if self.server.scheme == 'https':
            ctx = ssl.create_default_context(cafile=self.server.ca_file)
            return http.client.HTTPSConnection('127.0.0.1', self.server.port, context=ctx, timeout=30)
        return http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=30)

    def request(self, method, path, headers=None, body=None):
        if self.conn is None:
            self.conn = self._connect()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
        except Exception:
            self.close()
            raise
        if resp.getheader('Connection', '').lower() == 'close':
            self.close()
        return resp.status, dict((key.lower(), value) for key, value in resp.getheaders()), data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def logon(self, user=AUDITOR[0], password=AUDITOR[1], version='latest', accept='application/xml'):
        auth = base64.b64encode(('%s:%s' % (user, password)).encode('utf-8')).decode('ascii')
        status, headers, body = self.request('POST', '/api/sessionMngr/?v=%s' % version,
                                             {'Authorization': 'Basic ' + auth, 'Content-Length': '0', 'Accept': accept})
        assert status == 201, body
        return headers['x-restsvcsessionid']

    def get(self, path, token=None, accept=None, extra=None):
        headers = dict(extra or {})
        if token:
            headers['X-RestSvcSessionId'] = token
        if accept:
            headers['Accept'] = accept
        return self.request('GET', path, headers)

    def control(self, method, path, payload=None):
        body = json.dumps(payload).encode('utf-8') if payload is not None else None
        status, _headers, data = self.request(method, path, {'Content-Type': 'application/json'}, body)
        return status, json.loads(data.decode('utf-8'))
