"""The em_simulator.py entry script: TLS, port/pid files, request log, clean SIGTERM stop."""

import base64
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

from simtestlib import SIM_DIR, Client
from emsim.server import SimServer

SCRIPT = os.path.join(SIM_DIR, 'em_simulator.py')


def test_script_is_executable_with_shebang():
    with open(SCRIPT, encoding='utf-8') as handle:
        assert handle.readline().strip() == '#!/usr/bin/env python'
    assert os.access(SCRIPT, os.X_OK)


def test_cli_tls_run_and_sigterm(tmp_path, cert_dir):
    port_file, pid_file, log_file = (str(tmp_path / name) for name in ('port', 'pid', 'log'))
    proc = subprocess.Popen([sys.executable, SCRIPT, '--tls', '--cert-dir', cert_dir, '--port', '0', '--port-file', port_file,
                             '--pid-file', pid_file, '--log-file', log_file, '--vms', '5', '--days', '2',
                             '--now', '2025-06-20T12:00:00Z', '--user', 'LAB\\tester:pw:with:colons'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        port = int(open(port_file, encoding='ascii').read())
        assert line == 'EM simulator listening on https://127.0.0.1:%d' % port
        assert int(open(pid_file, encoding='ascii').read()) == proc.pid
        for name in ('ca.pem', 'server.pem', 'server.key'):
            assert os.path.exists(os.path.join(cert_dir, name))

        class _Srv(object):
            scheme = 'https'
            ca_file = os.path.join(cert_dir, 'ca.pem')
        _Srv.port = port
        client = Client(_Srv)
        token = client.logon('LAB\\tester', 'pw:with:colons')
        assert client.get('/api/query?type=CdpReplicaTaskSession', token)[0] == 200
        sid = base64.b64decode(token).decode()
        assert client.request('DELETE', '/api/logonSessions/' + sid, {'X-RestSvcSessionId': token})[0] == 204
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert not os.path.exists(pid_file)
    log = open(log_file, encoding='utf-8').read()
    assert 'POST /api/sessionMngr/?v=latest 201' in log and 'DELETE /api/logonSessions/*** 204' in log
    assert token not in log and sid not in log and 'pw:with' not in log


def test_tls_in_process_and_cert_reuse(cert_dir):
    before = os.path.getmtime(os.path.join(cert_dir, 'server.pem')) if os.path.exists(
        os.path.join(cert_dir, 'server.pem')) else None
    with SimServer(port=0, tls_dir=cert_dir, vms=3, days=1) as srv:
        assert srv.url.startswith('https://127.0.0.1:')
        client = Client(srv)
        assert client.get('/api/')[0] == 200
        client.close()
        ctx = ssl.create_default_context(cafile=srv.ca_file)
        with ctx.wrap_socket(socket.create_connection(('127.0.0.1', srv.port)),
                             server_hostname='localhost') as sock:
            assert sock.version() in ('TLSv1.2', 'TLSv1.3')
    if before is not None:
        assert os.path.getmtime(os.path.join(cert_dir, 'server.pem')) == before
    # A second server reuses the same files.
    mtime = os.path.getmtime(os.path.join(cert_dir, 'server.pem'))
    time.sleep(0.01)
    with SimServer(port=0, tls_dir=cert_dir, vms=1, days=1):
        pass
    assert os.path.getmtime(os.path.join(cert_dir, 'server.pem')) == mtime


def test_reset_control_regenerates():
    with SimServer(port=0, vms=3, days=1, now='2025-06-20T12:00:00Z') as srv:
        client = Client(srv)
        token = client.logon()
        status, doc = client.control('POST', '/_sim/reset', {'vms': 10, 'days': 3, 'profile': 'healthy', 'seed': 9})
        assert status == 200 and doc['data']['vms'] == 10 and doc['data']['now'] == '2025-06-20T12:00:00Z'
        assert client.control('GET', '/_sim/truth')[1]['profile'] == 'healthy'
        assert client.get('/api/query?type=CdpPolicy', token)[0] == 200
        client.control('POST', '/_sim/reset', {'drop_sessions': True})
        assert client.get('/api/query?type=CdpPolicy', token)[0] == 401
        assert client.control('POST', '/_sim/reset', {'bogus': 1})[0] == 400
        client.close()


def test_reset_control_adds_and_removes_twin_vms():
    with SimServer(port=0, vms=5, days=3, profile='healthy', now='2025-06-20T12:00:00Z') as srv:
        client = Client(srv)
        status, doc = client.control('POST', '/_sim/reset', {'twin_vms': 1})
        assert status == 200 and doc['data']['twin_vms'] == 1 and doc['data']['vms'] == 5
        twin = client.control('GET', '/_sim/truth')[1]['twins'][0]
        assert srv.sim.dataset.vm_names.count(twin['vm']) == 2
        assert client.control('POST', '/_sim/reset', {'twin_vms': 99})[0] == 400
        status, doc = client.control('POST', '/_sim/reset', {'twin_vms': 0})
        assert status == 200 and client.control('GET', '/_sim/truth')[1]['twins'] == []
        client.close()
