#!/usr/bin/env python
"""Veeam Backup Enterprise Manager (EM) REST API simulator.

Serves /api/ (discovery), /api/sessionMngr/ (logon), /api/logonSessions (logoff) and
/api/query (CdpReplicaTaskSession, CdpReplicaSession, CdpPolicy) on loopback, plus a
control API under /_sim/. See README.md beside this file.

Example:
    em_simulator.py --tls --cert-dir /tmp/emsim-certs --port 0 --port-file /tmp/emsim.port
"""

import argparse
import os
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from emsim import server as emserver  # noqa: E402  pylint: disable=wrong-import-position


def build_parser():
    parser = argparse.ArgumentParser(description='Veeam Backup Enterprise Manager REST API simulator (loopback test server)')
    parser.add_argument('--bind', default='127.0.0.1', help='address to bind (loopback only in tests)')
    parser.add_argument('--port', type=int, default=0, help='port; 0 picks a free one')
    parser.add_argument('--port-file', help='write the bound port to this file')
    parser.add_argument('--pid-file', help='write the process id to this file')
    parser.add_argument('--tls', action='store_true', help='serve HTTPS with a generated test CA')
    parser.add_argument('--cert-dir', default=None, help='where ca.pem, server.pem, server.key live (created if missing)')
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--vms', type=int, default=40)
    parser.add_argument('--days', type=int, default=30)
    parser.add_argument('--interval-hours', type=float, default=8)
    parser.add_argument('--now', default=None, help='ISO 8601 UTC "now" of the data (default: current time, floored to the minute)')
    parser.add_argument('--profile', choices=('realistic', 'healthy'), default='realistic')
    parser.add_argument('--twin-vms', type=int, default=0, help='VM names also used by a VM of another backup server')
    parser.add_argument('--idle-timeout', type=float, default=900.0, help='logon session idle expiry in seconds')
    parser.add_argument('--user', action='append', default=[], metavar='USER:PASSWORD',
                        help='account, repeatable (default: EMLAB\\auditor and EMLAB\\operator)')
    parser.add_argument('--json-case', choices=('pascal', 'camel'), default='pascal')
    parser.add_argument('--page-delay-ms', type=int, default=0)
    parser.add_argument('--render-cache-records', type=int, default=400000,
                        help='rendered task sessions kept per presentation (emptied when full; more costs about 1 KB each)')
    parser.add_argument('--public-base-url', default='https://localhost:9398', help='host part of Hrefs in responses')
    parser.add_argument('--log-file', default=None, help='request log (method, path, status; no secrets)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    users = None
    if args.user:
        users = []
        for item in args.user:
            name, sep, password = item.partition(':')
            if not sep or not name:
                sys.exit('--user must be USER:PASSWORD')
            users.append((name, password))
    log_handle = open(args.log_file, 'a', encoding='utf-8') if args.log_file else None  # pylint: disable=consider-using-with
    log_lock = threading.Lock()

    def log(line):
        with log_lock:
            log_handle.write('%s %s\n' % (time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), line))
            log_handle.flush()

    cert_dir = args.cert_dir
    if args.tls and not cert_dir:
        cert_dir = os.path.join(tempfile.gettempdir(), 'emsim-certs')
    srv = emserver.SimServer(
        bind=args.bind, port=args.port, tls_dir=cert_dir if args.tls else None,
        seed=args.seed, vms=args.vms, days=args.days, interval_hours=args.interval_hours, now=args.now,
        profile=args.profile, twin_vms=args.twin_vms, users=users, log=log if log_handle else None,
        idle_timeout=args.idle_timeout, json_case=args.json_case, page_delay_ms=args.page_delay_ms,
        render_cache_records=args.render_cache_records, public_base_url=args.public_base_url)
    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    srv.start()
    if args.pid_file:
        with open(args.pid_file, 'w', encoding='ascii') as handle:
            handle.write('%d\n' % os.getpid())
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w', encoding='ascii') as handle:
            handle.write('%d\n' % srv.port)
        os.replace(tmp, args.port_file)
    print('EM simulator listening on %s' % srv.url, flush=True)
    while not stop.wait(0.5):
        pass
    srv.stop()
    if args.pid_file:
        try:
            os.unlink(args.pid_file)
        except OSError:
            pass
    if log_handle:
        log_handle.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
