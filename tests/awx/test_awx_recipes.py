# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX recipes of docs/awx that run a playbook, run as AWX runs a job (ansible-runner, injected credential):

- cdp_audit_deliver.yml uploads every report file to an artifact store (a loopback HTTP server here), also when
  the verdict fails the job, and records the AWX job in the evidence;
- cdp_notify.yml, the workflow node after the audit, posts a message built from the audit's set_stats artifacts.

Run by `make awx-test`, like test_awx_job.py, whose helpers and fixtures these tests share.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading

import pytest

import ansible_runner
from test_awx_job import (  # pylint: disable=unused-import
    COLLECTION_ROOT,
    collections_dir,
    credential_type,
    inject_credential,
    job_artifacts,
    job_environment_only,
    simulator_credential,
)

TOKEN = 'store-token-%d' % os.getpid()


class Store(http.server.ThreadingHTTPServer):
    """An artifact store and chat webhook on 127.0.0.1: keeps what is PUT or POSTed, by path."""

    def __init__(self):
        super().__init__(('127.0.0.1', 0), StoreHandler)
        self.received = {}

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.server_address[1]


class StoreHandler(http.server.BaseHTTPRequestHandler):
    def _keep(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        self.server.received[self.path] = {'method': self.command, 'body': body, 'authorization': self.headers.get('Authorization'),
                                           'content_type': self.headers.get('Content-Type')}
        self.send_response(201 if self.command == 'PUT' else 200)
        self.send_header('Content-Length', '0')
        self.end_headers()

    do_PUT = do_POST = _keep

    def log_message(self, *args):
        pass


@pytest.fixture
def store():
    server = Store()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_recipe(private_data_dir, collections_dir, playbook, extravars, envvars, ident):
    """Run docs/awx/<playbook> as the project's playbook; return the runner and its artifacts dir."""
    project_dir = os.path.join(private_data_dir, 'project')
    os.makedirs(project_dir)
    with open(os.path.join(COLLECTION_ROOT, 'docs', 'awx', playbook), encoding='utf-8') as source:
        with open(os.path.join(project_dir, playbook), 'w', encoding='utf-8') as target:
            target.write(source.read())
    inventory_dir = os.path.join(private_data_dir, 'inventory')
    os.makedirs(inventory_dir)
    with open(os.path.join(inventory_dir, 'hosts'), 'w', encoding='utf-8') as inventory:
        inventory.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    envvars = dict(envvars, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
                   ANSIBLE_COLLECTIONS_PATHS=collections_dir, ANSIBLE_COLLECTIONS_PATH=collections_dir,
                   ANSIBLE_LOCAL_TEMP=os.path.join(private_data_dir, 'tmp'), ANSIBLE_HOME=os.path.join(private_data_dir, 'ansible-home'))
    runner = ansible_runner.run(private_data_dir=private_data_dir, project_dir=project_dir, playbook=playbook, inventory=inventory_dir,
                                envvars=envvars, extravars=extravars, ident=ident, quiet=True)
    return runner, os.path.join(private_data_dir, 'artifacts', ident)


# AWX sets these extra variables on every job.
AWX_JOB = {'awx_job_id': 4711, 'awx_job_template_name': 'CDP compliance audit with delivery', 'awx_user_name': 'auditor'}


@pytest.mark.parametrize('fail_on_violation, status', [('false', 'successful'), ('true', 'failed')])
def test_reports_are_uploaded_whatever_the_verdict(tmp_path, collections_dir, credential_type, simulator_credential, store,
                                                   fail_on_violation, status):
    envvars = inject_credential(credential_type, simulator_credential, str(tmp_path))
    extravars = dict(AWX_JOB, cdp_compliance_window_start='-24h', cdp_compliance_fail_on_violation=fail_on_violation,
                     cdp_compliance_report_basename='em01', cdp_deliver_url=store.url + '/cdp-audit/em01/', cdp_deliver_token=TOKEN)
    runner, artifacts_dir = run_recipe(str(tmp_path), collections_dir, 'cdp_audit_deliver.yml', extravars, envvars, 'deliver')
    assert runner.status == status, runner.stdout.read()

    assert sorted(store.received) == ['/cdp-audit/em01/em01.html', '/cdp-audit/em01/em01.json', '/cdp-audit/em01/em01.junit.xml',
                                      '/cdp-audit/em01/em01.md']
    assert all(item['method'] == 'PUT' and item['authorization'] == 'Bearer ' + TOKEN for item in store.received.values())
    uploaded = json.loads(store.received['/cdp-audit/em01/em01.json']['body'])
    assert uploaded['verdict'] == job_artifacts(artifacts_dir)['cdp_compliance']['verdict'] == 'non_compliant'
    assert uploaded['evidence']['awx_job'] == {'id': '4711', 'template': 'CDP compliance audit with delivery', 'launched_by': 'auditor'}
    assert store.received['/cdp-audit/em01/em01.json']['content_type'] == 'application/json'
    # The bearer token stays out of the job output.
    assert TOKEN not in runner.stdout.read()


def test_a_refused_upload_fails_the_job_and_names_the_file(tmp_path, collections_dir, credential_type, simulator_credential):
    envvars = inject_credential(credential_type, simulator_credential, str(tmp_path))
    closed = Store()
    url = closed.url
    closed.server_close()  # nothing listens there any more
    extravars = dict(cdp_compliance_fail_on_violation='false', cdp_compliance_report_formats=['json'], cdp_deliver_url=url, cdp_deliver_token=TOKEN)
    runner, dummy = run_recipe(str(tmp_path), collections_dir, 'cdp_audit_deliver.yml', extravars, envvars, 'refused')
    output = runner.stdout.read()
    assert runner.status == 'failed'
    assert 'Uploading cdp-compliance-' in output and 'failed' in output and TOKEN not in output, output


def test_the_workflow_summary_node_posts_the_published_set_stats(tmp_path, collections_dir, store):
    artifacts = {'cdp_compliance': {'verdict': 'non_compliant', 'em_hosts': ['https://em01.example.com:9398'],
                                    'summary': {'vms': 40, 'compliant': 30, 'warning': 1, 'non_compliant': 9, 'rpo_breached': 4,
                                                'replication_failed': 2},
                                    'files': {'html': 'reports/em01.html', 'json': 'reports/em01.json'}}}
    extravars = dict(artifacts, cdp_notify_url=store.url + '/hooks/abc')
    runner, dummy = run_recipe(str(tmp_path), collections_dir, 'cdp_notify.yml', extravars, {}, 'notify')
    assert runner.status == 'successful', runner.stdout.read()
    text = json.loads(store.received['/hooks/abc']['body'])['text']
    assert 'https://em01.example.com:9398: non_compliant' in text
    assert '40 VMs: 30 compliant' in text and '9 non-compliant' in text and '4 RPO breached' in text
    assert 'em01.html' in text


def test_the_summary_node_refuses_to_run_without_an_audit_before_it(tmp_path, collections_dir, store):
    runner, dummy = run_recipe(str(tmp_path), collections_dir, 'cdp_notify.yml', {'cdp_notify_url': store.url + '/h'}, {}, 'alone')
    assert runner.status == 'failed' and 'after the audit node' in runner.stdout.read()
    assert store.received == {}
