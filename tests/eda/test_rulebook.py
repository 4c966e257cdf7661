# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real ansible-rulebook runs the shipped rulebook veeam.enterprise_manager.cdp_notify against the simulator.

The collection is installed from its tarball, so ansible-rulebook loads the source from the installed
collection (runpy) with the connection from the VEEAM_EM_* environment, as an EDA controller credential
injects it. A failure planted in the simulator must reach the rule, whose action runs the playbook
veeam.enterprise_manager.cdp_event_notify, which posts to a webhook served by this test.
ansible-rulebook needs Java 17 (Debian's openjdk-17-jre-headless, installed by `make eda-test`).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
import yaml

from conftest import COLLECTION_ROOT, PASSWORD, tool

RULEBOOKS = os.path.join(COLLECTION_ROOT, 'extensions', 'eda', 'rulebooks')
REASON = 'Error: CDP proxy cdpproxy01.tech.local is unavailable'


def java_missing():
    """Why ansible-rulebook cannot run here, or None."""
    java_home = os.environ.get('JAVA_HOME')
    java = os.path.join(java_home, 'bin', 'java') if java_home else shutil.which('java')
    if not java or not os.access(java, os.X_OK):
        return 'no Java runtime (JAVA_HOME or java on PATH); ansible-rulebook needs Java 17: apt-get install openjdk-17-jre-headless'
    return None


class Webhook:
    """A loopback HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self):
        posts = self.posts = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # pylint: disable=invalid-name
                posts.append(json.loads(self.rfile.read(int(self.headers['Content-Length']))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/notify' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count, timeout, process):
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            assert process.poll() is None, 'ansible-rulebook exited with %s' % process.returncode
            time.sleep(0.2)
        return list(self.posts)


class Rulebook:
    """ansible-rulebook running a rulebook of the installed collection, output into a file."""

    def __init__(self, tmp_path, collections_dir, simulator, variables, name):
        self.log = tmp_path / ('%s.log' % name)
        inventory = tmp_path / 'inventory.yml'
        inventory.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {
            'ansible_connection': 'local', 'ansible_python_interpreter': os.path.realpath(tool('python3'))}}}}))
        vars_file = tmp_path / ('%s-vars.yml' % name)
        vars_file.write_text(yaml.safe_dump(variables))
        env = dict(os.environ, **simulator.environment())
        env.update({
            'ANSIBLE_COLLECTIONS_PATH': collections_dir,
            'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-tmp'),
            'ANSIBLE_HOME': str(tmp_path / 'ansible-home'),
            'PATH': os.path.dirname(tool('ansible-rulebook')) + os.pathsep + os.environ.get('PATH', ''),
            # Without -Xrs the JVM inside ansible-rulebook takes SIGTERM and ends the process at once:
            # no source is cancelled, nothing logs off. The decision environment sets the same.
            'JAVA_TOOL_OPTIONS': '-Xrs',
        })
        with open(self.log, 'wb') as output:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [tool('ansible-rulebook'), '-i', str(inventory), '-r', 'veeam.enterprise_manager.cdp_notify', '--vars', str(vars_file), '-v'],
                cwd=str(tmp_path), env=env, stdout=output, stderr=subprocess.STDOUT)

    def output(self):
        return self.log.read_text(encoding='utf-8', errors='replace')

    def wait_for(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, 'ansible-rulebook exited with %s:\n%s' % (self.process.returncode, self.output()[-3000:])
            assert time.monotonic() < deadline, 'no %r within %s s:\n%s' % (text, timeout, self.output()[-3000:])
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def rulebooks():
    started = []
    yield started
    for rulebook in started:
        rulebook.stop()


def test_shipped_rulebooks_are_valid(collections_dir, monkeypatch):
    """Every shipped rulebook passes ansible-rulebook's own schema and condition parser."""
    from ansible_rulebook.conf import settings  # pylint: disable=import-outside-toplevel
    from ansible_rulebook.rules_parser import parse_rule_sets  # pylint: disable=import-outside-toplevel
    from ansible_rulebook.validators import Validate  # pylint: disable=import-outside-toplevel

    # The parser resolves each source in its collection, with ansible-galaxy, as ansible-rulebook does.
    monkeypatch.setenv('ANSIBLE_COLLECTIONS_PATH', collections_dir)
    monkeypatch.setattr(settings, 'ansible_galaxy_path', tool('ansible-galaxy'))

    names = sorted(os.listdir(RULEBOOKS))
    assert {'cdp_notify.yml', 'cdp_remediate.yml', 'cdp_policy_enable.yml'} <= set(names)
    for name in names:
        with open(os.path.join(RULEBOOKS, name), encoding='utf-8') as rulebook_file:
            data = yaml.safe_load(rulebook_file)
        Validate.rulebook(data)
        rule_sets = parse_rule_sets(data)
        sources = [source.source_name for rule_set in rule_sets for source in rule_set.sources]
        assert sources == ['veeam.enterprise_manager.cdp_events'], name
    with open(os.path.join(RULEBOOKS, 'cdp_remediate.yml'), encoding='utf-8') as rulebook_file:
        actions = [action for rule in yaml.safe_load(rulebook_file)[0]['rules'] for action in rule.get('action', {})]
    assert 'run_job_template' in actions


def test_planted_failure_runs_the_notify_playbook(tmp_path, collections_dir, start_simulator, rulebooks):
    reason = java_missing()
    if reason:
        pytest.skip(reason)
    simulator = start_simulator('rulebook', '--profile', 'healthy', '--vms', '10', '--days', '2')
    webhook = Webhook()
    state_file = tmp_path / 'cdp-events-state.json'
    variables = {'cdp_events_interval': 1, 'cdp_events_state_file': str(state_file), 'cdp_notify_webhook_url': webhook.url}
    started = time.monotonic()

    rulebook = Rulebook(tmp_path, collections_dir, simulator, variables, 'first')
    rulebooks.append(rulebook)
    rulebook.wait_for('first poll of %s done' % simulator.url)
    vm = simulator.control('GET', 'truth')['policies']['CDP Tier1 Apps']['vms'][0]
    uid = 'urn:veeam:CdpReplicaTaskSession:' + simulator.control('POST', 'complete', {'vm': vm, 'result': 'Failed', 'reason': REASON})['completed']

    posts = webhook.wait(2, 90, rulebook.process)
    assert len(posts) == 2, rulebook.output()[-3000:]
    by_type = {post['event']['type']: post for post in posts}
    session = by_type['cdp_task_session']
    assert session['event']['session']['uid'] == uid
    assert session['event']['em_host'] == simulator.url
    assert session['text'].startswith('CDP replication of VM %s failed at ' % vm) and REASON in session['text']
    verdict = by_type['cdp_vm_verdict']['event']
    assert (verdict['vm'], verdict['previous_verdict'], verdict['verdict']) == (vm, 'compliant', 'non_compliant')
    assert (session['rule'], by_type['cdp_vm_verdict']['rule']) == ('A CDP task session failed', 'A VM became non-compliant')

    # A stop (SIGTERM, as an activation is stopped) cancels the source: it saves its state and logs off.
    assert rulebook.stop() == 0
    state = simulator.state()
    assert (state['open_sessions'], state['logoffs']) == (0, 1), state
    assert uid in json.loads(state_file.read_text())['seen']
    assert PASSWORD not in rulebook.output()

    # Restarted with the same state file: the failure and the verdict are not raised again.
    rulebook = Rulebook(tmp_path, collections_dir, simulator, variables, 'second')
    rulebooks.append(rulebook)
    rulebook.wait_for('first poll of %s done' % simulator.url)
    polls_before = simulator.state()['requests']
    time.sleep(4)
    assert simulator.state()['requests'] != polls_before  # it did poll
    assert rulebook.stop() == 0
    assert len(webhook.posts) == 2
    assert simulator.state()['open_sessions'] == 0
    print('rulebook test: %.1f s' % (time.monotonic() - started))


def test_decision_environment_definition(tmp_path):
    """ansible-builder accepts the decision environment and keeps what ansible-rulebook needs in it."""
    definition = os.path.join(COLLECTION_ROOT, 'extensions', 'eda', 'decision-environment.yml')
    context = tmp_path / 'context'
    subprocess.run([tool('ansible-builder'), 'create', '-f', definition, '--context', str(context)], check=True, capture_output=True)
    containerfile = (context / 'Dockerfile').read_text(encoding='utf-8')
    assert 'ENV JAVA_TOOL_OPTIONS=-Xrs' in containerfile
    assert 'ansible-rulebook' in (context / '_build' / 'requirements.txt').read_text(encoding='utf-8')
    assert 'java-17-openjdk' in (context / '_build' / 'bindep.txt').read_text(encoding='utf-8')
    with open(definition, encoding='utf-8') as definition_file:
        collections = yaml.safe_load(definition_file)['dependencies']['galaxy']['collections']
    assert {'name': 'veeam.enterprise_manager'} in collections


def test_bad_argument_stops_the_rulebook(tmp_path, collections_dir, start_simulator, rulebooks):
    """A bad source argument ends ansible-rulebook at once, with a message that names the argument; nothing reaches EM."""
    reason = java_missing()
    if reason:
        pytest.skip(reason)
    simulator = start_simulator('bad-argument', '--profile', 'healthy', '--vms', '2', '--days', '1')
    rulebook = Rulebook(tmp_path, collections_dir, simulator, {'cdp_events_interval': 'soon'}, 'bad-argument')
    rulebooks.append(rulebook)
    assert rulebook.process.wait(60) != 0
    assert "Invalid value for option 'interval'" in rulebook.output()
    assert simulator.state()['logons'] == 0
