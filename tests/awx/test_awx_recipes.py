# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX recipes of docs/awx that run a playbook, run as AWX runs a job (ansible-runner, injected credential):

- cdp_audit_deliver.yml uploads every report file to an artifact store (a loopback HTTP server here), also when
  the verdict fails the job, and records the AWX job in the evidence;
- cdp_notify.yml, the workflow node after the audit, posts a message built from the audit's set_stats artifacts;
- cdp_alert.yml, the short-interval alert, posts only the drift since its last run (history in an SQLite file).

Run by `make awx-test`, like test_awx_job.py, whose helpers and fixtures these tests share.
"""

from __future__ import annotations

import datetime
import glob
import http.server
import json
import os
import ssl
import sys
import threading
import urllib.request

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
# Read at import: the autouse fixture job_environment_only removes EM_SIM_* before each test.
SIM_CONTROL_URL = os.environ.get('EM_SIM_CONTROL_URL')
SIM_CA_PATH = os.environ.get('EM_SIM_CA_PATH')


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

    assert sorted(store.received) == ['/cdp-audit/em01/em01.csv', '/cdp-audit/em01/em01.html', '/cdp-audit/em01/em01.json',
                                      '/cdp-audit/em01/em01.junit.xml', '/cdp-audit/em01/em01.md', '/cdp-audit/em01/em01.sha256']
    assert all(item['method'] == 'PUT' and item['authorization'] == 'Bearer ' + TOKEN for item in store.received.values())
    uploaded = json.loads(store.received['/cdp-audit/em01/em01.json']['body'])
    assert uploaded['verdict'] == job_artifacts(artifacts_dir)['cdp_compliance']['verdict'] == 'non_compliant'
    assert uploaded['evidence']['awx_job'] == {'id': '4711', 'template': 'CDP compliance audit with delivery', 'launched_by': 'auditor'}
    assert store.received['/cdp-audit/em01/em01.json']['content_type'] == 'application/json'
    assert store.received['/cdp-audit/em01/em01.sha256']['content_type'].startswith('text/plain')
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


def sim_control(method, path, payload=None):
    """Call the simulator's /_sim/ control API; return its JSON answer."""
    if not SIM_CONTROL_URL:
        pytest.fail('EM_SIM_CONTROL_URL not set: run these tests with `make awx-test` (the simulator must be up)')
    body = None if payload is None else json.dumps(payload).encode('utf-8')
    request = urllib.request.Request(SIM_CONTROL_URL + path, data=body, method=method, headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=SIM_CA_PATH), timeout=30) as answer:
        return json.load(answer)


@pytest.fixture
def sim_now():
    """The simulator's data set "now"; the data are generated again as they were after the test, which changes them."""
    now = sim_control('GET', '/state')['data']['now']
    yield datetime.datetime.fromisoformat(now.replace('Z', '+00:00'))
    sim_control('POST', '/reset', {'now': now})


def alert_run(tmp_path, collections_dir, credential_type, simulator_credential, store, name, now):
    """One scheduled run of cdp_alert.yml at `now`, sharing one history file; return (posted text or None, drift, job stdout)."""
    private_data_dir = str(tmp_path / name)
    envvars = inject_credential(credential_type, simulator_credential, private_data_dir)
    extravars = {'cdp_notify_url': '%s/hooks/%s/%s' % (store.url, TOKEN, name), 'cdp_alert_history': str(tmp_path / 'history.sqlite'),
                 'cdp_compliance_now': now.strftime('%Y-%m-%dT%H:%M:%SZ')}
    runner, artifacts_dir = run_recipe(private_data_dir, collections_dir, 'cdp_alert.yml', extravars, envvars, name)
    output = runner.stdout.read()
    assert runner.status == 'successful', output
    assert TOKEN not in output
    counts = [em['drift'] for em in job_artifacts(artifacts_dir)['cdp_compliance']['ems'].values()]
    [report_file] = glob.glob(os.path.join(private_data_dir, 'project', 'reports', '*.json'))
    with open(report_file, encoding='utf-8') as report:
        drift = json.load(report)['drift']
    assert counts == [{key: len(drift[key]) for key in ('new', 'resolved', 'persisting', 'appeared', 'disappeared')}]
    posted = store.received.get('/hooks/%s/%s' % (TOKEN, name))
    return (json.loads(posted['body'])['text'] if posted else None), drift, output


def test_the_alert_posts_only_what_changed_since_the_last_run(tmp_path, collections_dir, credential_type, simulator_credential, store,
                                                              sim_now):
    truth = sim_control('GET', '/truth')
    healthy = [vm for policy in truth['policies'].values() for vm in policy['vms'] if vm not in truth['anomalous_vms']]
    vm = healthy[0]

    # A first audit has no previous audit to compare with: nothing to post.
    text, drift, dummy = alert_run(tmp_path, collections_dir, credential_type, simulator_credential, store, 'first', sim_now)
    assert drift['previous_audit'] is None and drift['persisting'] == [] and text is None
    assert not any(finding['vm'] == vm for finding in drift['new'])

    # The VM's running session fails half a minute later; the next run sees it.
    sim_control('POST', '/complete', {'vm': vm, 'result': 'Failed', 'reason': 'Target datastore unavailable',
                                      'end_time': (sim_now + datetime.timedelta(seconds=30)).strftime('%Y-%m-%dT%H:%M:%SZ')})
    text, drift, dummy = alert_run(tmp_path, collections_dir, credential_type, simulator_credential, store, 'second',
                                   sim_now + datetime.timedelta(minutes=1))
    assert drift['previous_audit'] is not None and drift['persisting']
    assert [(finding['vm'], finding['rule'], finding['code']) for finding in drift['new']] == [(vm, 'failures', 'replication_failed')], drift['new']
    assert drift['resolved'] == drift['appeared'] == drift['disappeared'] == []
    assert text is not None
    assert 'New findings: VM %s (failures: replication_failed).' % vm in text, text
    assert 'Resolved' not in text and 'Appeared' not in text and 'Disappeared' not in text, text

    # Nothing changed since: nothing is posted.
    text, drift, dummy = alert_run(tmp_path, collections_dir, credential_type, simulator_credential, store, 'third',
                                   sim_now + datetime.timedelta(minutes=2))
    assert drift['new'] == drift['resolved'] == drift['appeared'] == drift['disappeared'] == [] and drift['persisting']
    assert text is None
    assert sorted(store.received) == ['/hooks/%s/second' % TOKEN]
