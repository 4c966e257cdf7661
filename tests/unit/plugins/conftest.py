# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures: an in-process TLS EM simulator on 127.0.0.1 (port 0), stopped after each test."""

from __future__ import annotations

import http.client
import json
import os
import ssl

import pytest
from hypothesis import settings

# The suite gates every merge, so it must not find a new random example on one run and not the next:
# examples are derived from the test itself. HYPOTHESIS_PROFILE=explore searches randomly (and longer).
settings.register_profile("gate", derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import ConnectionConfig
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.server import SimServer

FIXED_NOW = "2025-06-20T12:00:00Z"
USER = "EMLAB\\auditor"
PASSWORD = "S3cret!pass"
# Non-ASCII account: Basic auth must carry UTF-8.
INTL_USER = "EMLAB\\m\u00fcller"
INTL_PASSWORD = "p\u00e4ss\u20acw\u00f6rd-\u65e5\u672c"
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def fixture_bytes(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


class Sim:
    """A running simulator plus its control API (/_sim/) and a record of the EM requests it received."""

    def __init__(self, server):
        self.server = server
        self.port = server.port
        self.ca_file = server.ca_file
        self.requests = []
        original = server.sim.handle

        def recording(req):
            if not req.path.startswith("/_sim"):
                self.requests.append({"method": req.method, "path": req.path, "query": req.query,
                                      "headers": list(req.headers.items())})
            return original(req)

        server.sim.handle = recording

    def control(self, method, path, payload=None):
        context = ssl.create_default_context(cafile=self.ca_file)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=30)
        try:
            body = json.dumps(payload).encode("utf-8") if payload is not None else None
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = json.loads(response.read().decode("utf-8"))
        finally:
            conn.close()
        if response.status != 200:
            raise AssertionError("simulator control %s %s failed: %s" % (method, path, data))
        return data

    def state(self):
        return self.control("GET", "/_sim/state")

    def faults(self, *specs):
        return self.control("POST", "/_sim/faults", {"faults": list(specs)})

    def configure(self, **changes):
        return self.control("POST", "/_sim/config", changes)

    def expire(self, session_id=None):
        return self.control("POST", "/_sim/expire", {"session_id": session_id} if session_id else {})

    def options(self, **overrides):
        options = {"host": "127.0.0.1", "port": self.port, "username": USER, "password": PASSWORD, "ca_path": self.ca_file,
                   "retries": 3, "workers": 1}
        options.update(overrides)
        return options

    def config(self, **overrides):
        return ConnectionConfig.from_options(self.options(**overrides))

    def query_requests(self):
        return [req for req in self.requests if req["path"] == "/api/query"]


@pytest.fixture(scope="session")
def em_cert_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("emsim-certs"))


@pytest.fixture
def em_sim(em_cert_dir):
    server = SimServer(port=0, tls_dir=em_cert_dir, seed=7, vms=5, days=3, interval_hours=8, now=FIXED_NOW,
                       users=[(USER, PASSWORD), (INTL_USER, INTL_PASSWORD)])
    # Headers and body go out in two writes: without TCP_NODELAY every response waits for a delayed ACK (~40 ms).
    server.httpd.RequestHandlerClass = type("NoDelayHandler", (server.httpd.RequestHandlerClass,), {"disable_nagle_algorithm": True})
    server.start()
    try:
        yield Sim(server)
    finally:
        server.stop()
