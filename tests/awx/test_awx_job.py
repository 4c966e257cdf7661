# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CDP audit as an AWX job runs it: ansible-runner, credential injected from docs/awx/credential_type.yml.

Run by `make awx-test` (from the build tree, inside tests/utils/with_simulator.sh): the simulator's
address and logon arrive as VEEAM_EM_* and EM_SIM_*; they are the credential's inputs here, and are
removed from this process's environment so that the job only sees what the injector puts there.

What is reproduced from AWX (awx/main/models/credential CredentialType.inject_credential, RunJob):
- the project holds docs/awx/cdp_audit.yml; the collection is installed from the built tarball into
  requirements_collections, which AWX puts on ANSIBLE_COLLECTIONS_PATHS after a project sync;
- the injectors are rendered with Jinja2's immutable sandbox; inputs left empty are undefined; a file
  injector writes a 0600 file under <private_data_dir>/env and exposes its path as tower.filename.<label>;
- survey answers are extra variables (strings, as AWX's multiple choice gives them);
- the job's artifacts are the `artifact_data` of the playbook_on_stats event (set_stats data).
"""

from __future__ import annotations

import base64
import glob
import json
import os
import stat
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

import ansible_runner

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CREDENTIAL_TYPE = os.path.join(COLLECTION_ROOT, 'docs', 'awx', 'credential_type.yml')
PROJECT_PLAYBOOK = os.path.join(COLLECTION_ROOT, 'docs', 'awx', 'cdp_audit.yml')
PROJECT_REQUIREMENTS = os.path.join(COLLECTION_ROOT, 'docs', 'awx', 'collections', 'requirements.yml')
REPORT_FORMATS = {'json': '.json', 'html': '.html', 'junit': '.xml', 'markdown': '.md', 'csv': '.csv', 'sha256': '.sha256'}
VERDICTS = ('compliant', 'warning', 'non_compliant', 'incomplete')


class TowerNamespace:  # pylint: disable=too-few-public-methods
    """Attribute bag, as AWX's `tower` (alias `awx`) template namespace."""


def tool(name):
    """Return the path of an Ansible command next to this interpreter, else from PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.access(beside, os.X_OK) else name


def inject_credential(credential_type, inputs, private_data_dir):
    """Render the credential type's injectors like AWX; return the job's environment variables."""
    namespace = {}
    for field_name, value in inputs.items():
        if isinstance(value, bool) or len(value):
            namespace[field_name] = value
    for field in credential_type['inputs']['fields']:
        if field['type'] == 'boolean' and field['id'] not in inputs:
            namespace[field['id']] = False
    tower = TowerNamespace()
    namespace['tower'] = namespace['awx'] = tower

    sandbox = ImmutableSandboxedEnvironment()
    env_dir = os.path.join(private_data_dir, 'env')
    os.makedirs(env_dir, exist_ok=True)
    for file_label, template in credential_type['injectors'].get('file', {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, 'w') as injected:
            injected.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if '.' not in file_label:
            tower.filename = path
        else:
            if not hasattr(tower, 'filename'):
                tower.filename = TowerNamespace()
            setattr(tower.filename, file_label.split('.', 1)[1], path)

    return {name: sandbox.from_string(template).render(**namespace)
            for name, template in credential_type['injectors'].get('env', {}).items()}


@pytest.fixture(scope='module')
def credential_type():
    """The credential type the docs tell AWX administrators to create."""
    with open(CREDENTIAL_TYPE, encoding='utf-8') as definition:
        return yaml.safe_load(definition)


@pytest.fixture(scope='module')
def simulator_credential():
    """The credential inputs an AWX user would enter for the running simulator."""
    missing = [name for name in ('VEEAM_EM_HOST', 'VEEAM_EM_USERNAME', 'VEEAM_EM_PASSWORD', 'EM_SIM_CA_PATH') if not os.environ.get(name)]
    if missing:
        pytest.fail('%s not set: run these tests with `make awx-test` (the simulator must be up)' % ', '.join(missing))
    url = urlsplit(os.environ['VEEAM_EM_HOST'])
    with open(os.environ['EM_SIM_CA_PATH'], encoding='ascii') as ca_file:
        ca_cert = ca_file.read()
    return {
        'host': url.hostname,
        'port': str(url.port),
        'username': os.environ['VEEAM_EM_USERNAME'],
        'password': os.environ['VEEAM_EM_PASSWORD'],
        'validate_certs': 'true',
        'ca_cert': ca_cert,
    }


@pytest.fixture(scope='module')
def collections_dir(tmp_path_factory):
    """The collection as a project sync installs it: built into a tarball, installed from it."""
    work = tmp_path_factory.mktemp('collection')
    subprocess.run([tool('ansible-galaxy'), 'collection', 'build', '--output-path', str(work / 'dist'), COLLECTION_ROOT],
                   check=True, capture_output=True)
    tarball = glob.glob(str(work / 'dist' / '*.tar.gz'))[0]
    installed = work / 'requirements_collections'
    subprocess.run([tool('ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(installed), tarball],
                   check=True, capture_output=True)
    return str(installed)


@pytest.fixture(autouse=True)
def job_environment_only(monkeypatch):
    """Keep the simulator's VEEAM_EM_* out of the job: AWX builds a job's environment from scratch."""
    for name in list(os.environ):
        if name.startswith(('VEEAM_EM_', 'EM_SIM_', 'ANSIBLE_')):
            monkeypatch.delenv(name)


def run_job(private_data_dir, collections_dir, credential_type, credential, survey, ident):
    """Run docs/awx/cdp_audit.yml the way AWX runs a job template; return the runner and its artifacts dir."""
    project_dir = os.path.join(private_data_dir, 'project')
    os.makedirs(os.path.join(project_dir, 'collections'))
    with open(PROJECT_PLAYBOOK, encoding='utf-8') as source, open(os.path.join(project_dir, 'cdp_audit.yml'), 'w', encoding='utf-8') as target:
        target.write(source.read())
    with open(PROJECT_REQUIREMENTS, encoding='utf-8') as source:
        with open(os.path.join(project_dir, 'collections', 'requirements.yml'), 'w', encoding='utf-8') as target:
            target.write(source.read())
    inventory_dir = os.path.join(private_data_dir, 'inventory')
    os.makedirs(inventory_dir)
    with open(os.path.join(inventory_dir, 'hosts'), 'w', encoding='utf-8') as inventory:
        inventory.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)

    envvars = inject_credential(credential_type, credential, private_data_dir)
    envvars.update({
        'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATHS': collections_dir,
        'ANSIBLE_COLLECTIONS_PATH': collections_dir,
        'ANSIBLE_LOCAL_TEMP': os.path.join(private_data_dir, 'tmp'),
        'ANSIBLE_HOME': os.path.join(private_data_dir, 'ansible-home'),
    })
    runner = ansible_runner.run(
        private_data_dir=private_data_dir,
        project_dir=project_dir,
        playbook='cdp_audit.yml',
        inventory=inventory_dir,
        envvars=envvars,
        extravars=survey,
        ident=ident,
        quiet=True,
    )
    return runner, os.path.join(private_data_dir, 'artifacts', ident)


def job_events(artifacts_dir):
    """The job events ansible-runner stored, in order."""
    events = []
    for path in glob.glob(os.path.join(artifacts_dir, 'job_events', '*.json')):
        with open(path, encoding='utf-8') as event_file:
            events.append(json.load(event_file))
    return sorted(events, key=lambda event: event['counter'])


def job_artifacts(artifacts_dir):
    """What AWX shows as the job's artifacts: artifact_data of the playbook_on_stats event."""
    stats_events = [event for event in job_events(artifacts_dir) if event['event'] == 'playbook_on_stats']
    assert len(stats_events) == 1
    return stats_events[0]['event_data']['artifact_data']


def assert_no_secret(private_data_dir, artifacts_dir, runner, credential):
    """The password, also as part of a Basic auth header, appears in no artifact and not in stdout."""
    basic = base64.b64encode(('%s:%s' % (credential['username'], credential['password'])).encode('utf-8'))
    secrets = [credential['password'].encode('utf-8'), basic]
    # ansible-runner records the environment it was given in artifacts/<ident>/command. AWX never shows that
    # file (the job's environment it stores is rendered again with secrets replaced): only that one
    # variable may hold the password there.
    with open(os.path.join(artifacts_dir, 'command'), encoding='utf-8') as command_file:
        command = json.load(command_file)
    command['env'].pop('VEEAM_EM_PASSWORD')
    recorded = json.dumps(command).encode('utf-8')
    for secret in secrets:
        assert secret not in recorded
    checked = 0
    for root, _dirs, files in os.walk(artifacts_dir):
        for name in files:
            if os.path.join(root, name) == os.path.join(artifacts_dir, 'command'):
                continue
            with open(os.path.join(root, name), 'rb') as artifact:
                content = artifact.read()
            checked += 1
            for secret in secrets:
                assert secret not in content, 'secret found in %s' % os.path.relpath(os.path.join(root, name), private_data_dir)
    assert checked > 3
    stdout = runner.stdout.read().encode('utf-8')
    assert stdout
    for secret in secrets:
        assert secret not in stdout


def assert_reports(project_dir, result):
    """Each report file the artifacts name is on disk, in the project's ./reports, and agrees with them."""
    files = result['files']
    assert sorted(files) == sorted(REPORT_FORMATS)
    reports_dir = os.path.realpath(os.path.join(project_dir, 'reports'))
    for report_format, path in files.items():
        absolute = os.path.realpath(os.path.join(project_dir, path))
        assert os.path.dirname(absolute) == reports_dir, path
        assert absolute.endswith(REPORT_FORMATS[report_format])
        assert os.path.getsize(absolute) > 0
    with open(os.path.join(project_dir, files['json']), encoding='utf-8') as json_report:
        report = json.load(json_report)
    assert report['verdict'] == result['verdict']
    return report


def test_audit_job_publishes_artifacts_and_reports(tmp_path, collections_dir, credential_type, simulator_credential):
    """The survey accepts violations: the job succeeds, artifacts and reports describe the same audit."""
    private_data_dir = str(tmp_path)
    runner, artifacts_dir = run_job(private_data_dir, collections_dir, credential_type, simulator_credential,
                                    {'cdp_compliance_window_start': '-24h', 'cdp_compliance_fail_on_violation': 'false'}, 'audit-ok')
    assert (runner.status, runner.rc) == ('successful', 0), runner.stdout.read()

    artifacts = job_artifacts(artifacts_dir)
    assert sorted(artifacts) == ['cdp_compliance']
    overall = artifacts['cdp_compliance']
    # The simulator's realistic data set has stuck and failed sessions in the last day.
    assert overall['verdict'] == 'non_compliant'
    assert overall['em_hosts'] == ['https://%s:%s' % (simulator_credential['host'], simulator_credential['port'])]
    assert overall['summary']['vms'] > 0
    assert overall['summary']['non_compliant'] > 0
    assert sorted(overall['ems']) == ['localhost']
    per_em = overall['ems']['localhost']
    assert (per_em['status'], per_em['verdict'], per_em['error']) == ('ok', 'non_compliant', None)
    assert per_em['summary'] == overall['summary']
    assert per_em['files'] == overall['files']
    # Workflow nodes get the artifacts as extra variables: they must be plain JSON.
    assert json.loads(json.dumps(artifacts)) == artifacts

    report = assert_reports(os.path.join(private_data_dir, 'project'), overall)
    assert report['summary']['vms'] == overall['summary']['vms']
    assert_no_secret(private_data_dir, artifacts_dir, runner, simulator_credential)


def test_violation_fails_job_after_publishing(tmp_path, collections_dir, credential_type, simulator_credential):
    """The survey's default fails the job on a violation, after the artifacts and reports are written."""
    private_data_dir = str(tmp_path)
    runner, artifacts_dir = run_job(private_data_dir, collections_dir, credential_type, simulator_credential,
                                    {'cdp_compliance_window_start': '-24h', 'cdp_compliance_fail_on_violation': 'true'}, 'audit-violation')
    assert runner.status == 'failed'
    assert runner.rc != 0

    overall = job_artifacts(artifacts_dir)['cdp_compliance']
    assert overall['verdict'] == 'non_compliant'
    assert_reports(os.path.join(private_data_dir, 'project'), overall)
    failed = [event for event in job_events(artifacts_dir) if event['event'] == 'runner_on_failed']
    assert [event['event_data']['task'] for event in failed] == [
        'Fail when the verdict is not acceptable or the audit could not be recorded in the history store']
    assert_no_secret(private_data_dir, artifacts_dir, runner, simulator_credential)


def test_wrong_password_is_incomplete_and_not_leaked(tmp_path, collections_dir, credential_type, simulator_credential):
    """A rejected logon gives an incomplete verdict with the reason, and the wrong password stays secret."""
    credential = dict(simulator_credential, password='Wr0ng!secret-%s' % os.getpid())
    private_data_dir = str(tmp_path)
    runner, artifacts_dir = run_job(private_data_dir, collections_dir, credential_type, credential,
                                    {'cdp_compliance_window_start': '-24h', 'cdp_compliance_fail_on_violation': 'false'}, 'audit-logon')
    assert runner.status == 'failed'

    overall = job_artifacts(artifacts_dir)['cdp_compliance']
    assert overall['verdict'] == 'incomplete'
    per_em = overall['ems']['localhost']
    assert per_em['status'] == 'unreachable'
    assert per_em['error']
    assert_reports(os.path.join(private_data_dir, 'project'), overall)
    assert_no_secret(private_data_dir, artifacts_dir, runner, credential)


def test_injector_matches_the_documented_variables(tmp_path, credential_type, simulator_credential):
    """The injected variables are the ones the collection reads; an empty CA gives an empty CA path."""
    env = inject_credential(credential_type, simulator_credential, str(tmp_path))
    assert sorted(env) == ['VEEAM_EM_CA_PATH', 'VEEAM_EM_HOST', 'VEEAM_EM_PASSWORD', 'VEEAM_EM_PORT', 'VEEAM_EM_USERNAME',
                           'VEEAM_EM_VALIDATE_CERTS']
    assert os.path.dirname(env['VEEAM_EM_CA_PATH']) == str(tmp_path / 'env')
    assert stat.S_IMODE(os.stat(env['VEEAM_EM_CA_PATH']).st_mode) == 0o600
    with open(env['VEEAM_EM_CA_PATH'], encoding='ascii') as ca_file:
        assert ca_file.read() == simulator_credential['ca_cert']
    assert env['VEEAM_EM_VALIDATE_CERTS'] == 'true'

    bare = {'host': 'em.example.com', 'username': 'EXAMPLE\\auditor', 'password': 'x', 'port': '', 'ca_cert': ''}
    env = inject_credential(credential_type, bare, str(tmp_path / 'bare'))
    assert (env['VEEAM_EM_PORT'], env['VEEAM_EM_VALIDATE_CERTS'], env['VEEAM_EM_CA_PATH']) == ('9398', 'true', '')
    env = inject_credential(credential_type, dict(bare, validate_certs='false'), str(tmp_path / 'off'))
    assert env['VEEAM_EM_VALIDATE_CERTS'] == 'false'
