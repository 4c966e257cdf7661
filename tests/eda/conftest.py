# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the EDA and AWX-at-scale tests (`make eda-test`): simulators, the installed collection.

Each simulator is a real TLS EM simulator process started with tests/utils/simulator.sh in a state
directory of its own, stopped at the end of the test that started it.
"""

from __future__ import annotations

import glob
import http.client
import json
import os
import ssl
import subprocess
import sys

import pytest

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SIMULATOR_SH = os.path.join(COLLECTION_ROOT, 'tests', 'utils', 'simulator.sh')
USERNAME = 'EMLAB\\auditor'
PASSWORD = 'S3cret!pass'


def tool(name):
    """An Ansible command next to this interpreter, else from PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.access(beside, os.X_OK) else name


class Simulator:
    """A simulator process and its control API (/_sim/)."""

    def __init__(self, state_dir, *args):
        self.state_dir = str(state_dir)
        subprocess.run([SIMULATOR_SH, 'start', self.state_dir, *args], check=True, capture_output=True,
                       env=dict(os.environ, PYTHON=sys.executable))
        env = {}
        with open(os.path.join(self.state_dir, 'env'), encoding='utf-8') as env_file:
            for line in env_file:
                key, _sep, value = line.strip().partition('=')
                env[key] = value
        self.url = env['EM_SIM_URL']
        self.port = int(env['EM_SIM_PORT'])
        self.ca_file = env['EM_SIM_CA_PATH']

    def stop(self):
        subprocess.run([SIMULATOR_SH, 'stop', self.state_dir], check=False, capture_output=True)

    def control(self, method, path, payload=None):
        context = ssl.create_default_context(cafile=self.ca_file)
        conn = http.client.HTTPSConnection('127.0.0.1', self.port, context=context, timeout=30)
        try:
            body = json.dumps(payload).encode('utf-8') if payload is not None else None
            conn.request(method, '/_sim/' + path, body=body, headers={'Content-Type': 'application/json'})
            response = conn.getresponse()
            data = json.loads(response.read().decode('utf-8'))
        finally:
            conn.close()
        assert response.status == 200, data
        return data

    def state(self):
        return self.control('GET', 'state')

    def host_vars(self):
        """The inventory variables of this EM, as the cdp_audit playbook reads them."""
        return {'veeam_em_host': self.url, 'veeam_em_ca_path': self.ca_file}

    def environment(self):
        """The VEEAM_EM_* variables an AWX or EDA controller credential injects."""
        return {'VEEAM_EM_HOST': self.url, 'VEEAM_EM_USERNAME': USERNAME, 'VEEAM_EM_PASSWORD': PASSWORD,
                'VEEAM_EM_CA_PATH': self.ca_file, 'VEEAM_EM_VALIDATE_CERTS': 'true'}


@pytest.fixture
def start_simulator(tmp_path):
    """start_simulator(name, *simulator args) -> Simulator; all are stopped after the test."""
    started = []

    def start(name, *args):
        simulator = Simulator(tmp_path / ('sim-' + name), *args)
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture(scope='session')
def collections_dir(tmp_path_factory):
    """The collection as users get it: built into a tarball and installed from it."""
    work = tmp_path_factory.mktemp('collection')
    subprocess.run([tool('ansible-galaxy'), 'collection', 'build', '--output-path', str(work / 'dist'), COLLECTION_ROOT],
                   check=True, capture_output=True)
    tarball = glob.glob(str(work / 'dist' / '*.tar.gz'))[0]
    installed = work / 'collections'
    subprocess.run([tool('ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(installed), tarball],
                   check=True, capture_output=True)
    return str(installed)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Nothing from the caller's environment leaks into the runs: they get exactly what a controller injects."""
    for name in list(os.environ):
        if name.startswith(('VEEAM_EM_', 'EM_SIM_', 'ANSIBLE_')):
            monkeypatch.delenv(name)
