# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sliced AWX audit of many EMs, run the way AWX runs it: ansible-runner jobs over parts of an inventory.

Three simulated EMs (one realistic, two healthy) form the inventory. As AWX does for a job template with
job_slice_count=2, each slice job gets every second host of the inventory (AWX orders hosts by name) and
its own awx_job_id; the workflow then hands the merge node the slices' artifacts merged key by key
(a later slice's key replaces an earlier one's). The merged verdict and summary must equal those of a
single run over the whole inventory.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import sys

import ansible_runner
import yaml

from conftest import COLLECTION_ROOT, PASSWORD, USERNAME

AWX_DIR = os.path.join(COLLECTION_ROOT, 'docs', 'awx')
SLICES = 2


def write_project(private_data_dir):
    project_dir = os.path.join(private_data_dir, 'project')
    os.makedirs(project_dir)
    for name in ('cdp_audit_slice.yml', 'cdp_merge_slices.yml'):
        with open(os.path.join(AWX_DIR, name), encoding='utf-8') as source:
            with open(os.path.join(project_dir, name), 'w', encoding='utf-8') as target:
                target.write(source.read())
    with open(os.path.join(project_dir, 'cdp_audit_all.yml'), 'w', encoding='utf-8') as single:
        single.write('- name: The audit of every EM in one job\n  ansible.builtin.import_playbook: veeam.enterprise_manager.cdp_audit\n')
    return project_dir


def write_inventory(path, hosts):
    inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}},
                         'children': {'veeam_em_servers': {'hosts': hosts,
                                                           'vars': {'veeam_em_username': USERNAME, 'veeam_em_password': PASSWORD}}}}}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as inventory_file:
        yaml.safe_dump(inventory, inventory_file)
    return path


def run_job(work, collections_dir, playbook, ident, inventory_hosts, extravars):
    """One AWX job: its own private data dir; returns (status, artifacts of the playbook_on_stats event, project dir)."""
    private_data_dir = str(work / ident)
    project_dir = write_project(private_data_dir)
    inventory = write_inventory(os.path.join(private_data_dir, 'inventory', 'hosts.yml'), inventory_hosts)
    runner = ansible_runner.run(
        private_data_dir=private_data_dir, project_dir=project_dir, playbook=playbook, inventory=inventory, ident=ident,
        extravars=extravars, quiet=True,
        envvars={'ANSIBLE_COLLECTIONS_PATH': collections_dir, 'ANSIBLE_HOME': os.path.join(private_data_dir, 'ansible-home'),
                 'ANSIBLE_LOCAL_TEMP': os.path.join(private_data_dir, 'tmp'),
                 'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', '')})
    events = []
    for path in glob.glob(os.path.join(private_data_dir, 'artifacts', ident, 'job_events', '*.json')):
        with open(path, encoding='utf-8') as event_file:
            events.append(json.load(event_file))
    stats = [event for event in events if event['event'] == 'playbook_on_stats']
    assert len(stats) == 1, runner.stdout.read()
    return runner, stats[0]['event_data']['artifact_data'], project_dir


def test_sliced_audit_merges_to_the_single_run_verdict(tmp_path, collections_dir, start_simulator):
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0).strftime('%Y-%m-%dT%H:%M:%SZ')
    common = ('--now', now, '--vms', '12', '--days', '3')
    simulators = {
        'em-a': start_simulator('a', '--profile', 'healthy', '--seed', '1', *common),
        'em-b': start_simulator('b', '--profile', 'realistic', '--seed', '42', *common),
        'em-c': start_simulator('c', '--profile', 'healthy', '--seed', '3', *common),
    }
    hosts = {name: simulator.host_vars() for name, simulator in simulators.items()}
    audit_vars = {'cdp_compliance_now': now, 'cdp_compliance_window_start': '-24h', 'cdp_compliance_report_formats': ['json']}

    # The slices, as AWX launches them: hosts[k::SLICES] of the hosts ordered by name, one job id each.
    names = sorted(hosts)
    workflow_artifacts = {}
    slice_artifacts = []
    for number in range(SLICES):
        part = {name: hosts[name] for name in names[number::SLICES]}
        runner, artifacts, dummy = run_job(tmp_path, collections_dir, 'cdp_audit_slice.yml', 'slice-%d' % (number + 1), part,
                                           dict(audit_vars, awx_job_id=1000 + number))
        assert runner.status == 'successful', runner.stdout.read()  # the slices never fail on the verdict
        assert sorted(artifacts['cdp_compliance_slice_%d' % (1000 + number)]) == sorted(part)
        slice_artifacts.append(artifacts)
        workflow_artifacts.update(artifacts)  # AWX: the slices' artifacts, key by key
    # The role's own summary key is overwritten by the last slice: why each slice publishes under a key of its own.
    assert sorted(workflow_artifacts['cdp_compliance']['ems']) == names[SLICES - 1::SLICES]

    merge_vars = dict(workflow_artifacts, cdp_compliance_fail_on_violation=False)
    runner, merged, project_dir = run_job(tmp_path, collections_dir, 'cdp_merge_slices.yml', 'merge', {}, merge_vars)
    assert runner.status == 'successful', runner.stdout.read()
    merged = merged['cdp_compliance']

    runner, single, dummy = run_job(tmp_path, collections_dir, 'cdp_audit_all.yml', 'single', hosts,
                                    dict(audit_vars, cdp_compliance_fail_on_violation=False))
    assert runner.status == 'successful', runner.stdout.read()
    single = single['cdp_compliance']

    # em-b has the realistic profile's anomalies: the merged verdict is only right if its slice was merged in.
    assert merged['verdict'] == single['verdict'] == 'non_compliant'
    assert merged['summary'] == single['summary']
    assert merged['summary']['ems'] == 3 and merged['slices'] == SLICES
    assert sorted(merged['em_hosts']) == sorted(single['em_hosts']) == sorted(simulator.url for simulator in simulators.values())
    with open(os.path.join(project_dir, merged['files']['json']), encoding='utf-8') as report_file:
        report = json.load(report_file)
    assert report['kind'] == 'cdp_compliance_combined_report' and report['verdict'] == merged['verdict']
    assert sorted(em['em_host'] for em in report['ems']) == sorted(merged['em_hosts'])
    assert len(report['vms']) == merged['summary']['vms']

    # A merge that misses em-b's slice gives another verdict: the comparison above can fail.
    runner, partial, dummy = run_job(tmp_path, collections_dir, 'cdp_merge_slices.yml', 'merge-partial', {},
                                     dict(slice_artifacts[0], cdp_compliance_fail_on_violation=False))
    assert runner.status == 'successful', runner.stdout.read()
    assert partial['cdp_compliance']['verdict'] != single['verdict']

    # The merge fails on the verdict (by default), after publishing it, so the workflow's notifications fire.
    runner, failed, dummy = run_job(tmp_path, collections_dir, 'cdp_merge_slices.yml', 'merge-gate', {}, workflow_artifacts)
    assert runner.status == 'failed'
    assert failed['cdp_compliance']['verdict'] == 'non_compliant'

    # Without slice results the merge says what is missing.
    runner, dummy, dummy = run_job(tmp_path, collections_dir, 'cdp_merge_slices.yml', 'merge-empty', {}, {})
    assert runner.status == 'failed'
    assert 'No cdp_compliance_slice_* variable' in runner.stdout.read()
