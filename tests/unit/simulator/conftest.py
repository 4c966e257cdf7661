"""Fixtures for the EM simulator tests: in-process servers on 127.0.0.1:0 and a tiny HTTP client."""

import os
import sys

import pytest

# ansible-test imports test modules by package path; make this directory importable as well.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simtestlib import FIXED_NOW, Client  # noqa: E402 pylint: disable=wrong-import-position  # also puts tests/simulator on sys.path
from emsim.server import SimServer  # noqa: E402 pylint: disable=wrong-import-order,wrong-import-position


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
