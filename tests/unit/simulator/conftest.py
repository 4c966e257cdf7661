"""Fixtures for the EM simulator tests: in-process servers on 127.0.0.1:0 and a tiny HTTP client."""

import pytest

from simtestlib import FIXED_NOW, Client  # also puts tests/simulator on sys.path
from emsim.server import SimServer  # pylint: disable=wrong-import-order


@pytest.fixture
def server():
    with SimServer(port=0, seed=42, vms=40, days=30, interval_hours=8, now=FIXED_NOW) as srv:
        yield srv


@pytest.fixture
def client(server):
    cli = Client(server)
    yield cli
    cli.close()


@pytest.fixture
def token(client):
    return client.logon()


@pytest.fixture(scope='session')
def cert_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('emsim-certs'))
