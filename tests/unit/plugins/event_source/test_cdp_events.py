# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cdp_events event source driven through its main() with an asyncio queue against the simulator.

The source is loaded with runpy.run_path, as ansible-rulebook loads it (tests/eda runs a real ansible-rulebook).
Failures are planted with the simulator's /_sim/complete; EM outages with its fault API.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import runpy
import sys
from unittest import mock

import pytest
import yaml

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.options import CONNECTION_OPTIONS, ConnectionConfig
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.query import prepare_cdp_query, run_query
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.runner import open_client
from ansible_collections.veeam.enterprise_manager.tests.simulator.emsim.server import SimServer
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD, USER, Sim

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "extensions", "eda", "plugins",
                      "event_source", "cdp_events.py")
# ansible-test's collection loader adds a path hook that would make run_path treat the file as a package;
# ansible-rulebook's process has none.
with mock.patch.object(sys, "path_hooks", []), mock.patch.dict(sys.path_importer_cache, clear=True):
    MODULE = runpy.run_path(SOURCE)
MAIN = MODULE["main"]
UTILS = MODULE["_collection_utils"]()
InvalidInputError = UTILS.errors.InvalidInputError


@pytest.fixture(autouse=True)
def no_connection_environment(monkeypatch):
    for option in CONNECTION_OPTIONS.values():
        monkeypatch.delenv(option["env"], raising=False)


def make_sim(cert_dir, profile="healthy", vms=6):
    server = SimServer(port=0, tls_dir=cert_dir, seed=11, vms=vms, days=2, interval_hours=8, profile=profile,
                       users=[(USER, PASSWORD)])
    server.httpd.RequestHandlerClass = type("NoDelayHandler", (server.httpd.RequestHandlerClass,), {"disable_nagle_algorithm": True})
    server.start()
    return Sim(server)


@pytest.fixture
def sim(em_cert_dir):
    simulator = make_sim(em_cert_dir)
    try:
        yield simulator
    finally:
        simulator.server.stop()


def utc(minutes=0):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def vm_names(sim):
    return [name for policy in sim.control("GET", "/_sim/truth")["policies"].values() for name in policy["vms"]]


def complete(sim, vm, result="Failed", **extra):
    payload = dict(vm=vm, result=result, **extra)
    return "urn:veeam:CdpReplicaTaskSession:" + sim.control("POST", "/_sim/complete", payload)["completed"]


def session_polls(sim):
    """Polls the simulator has seen: each starts with the first page of completed sessions, or of policies (verdicts only)."""
    queries = [req["query"] for req in sim.query_requests() if req["query"].endswith("&page=1")]
    return max(sum(1 for query in queries if "State%3D%3D%22Completed%22%3BEndTimeUTC" in query),
               sum(1 for query in queries if query.startswith("type=CdpPolicy&")))


def info_record(sim, uid):
    """The record as cdp_replica_task_session_info returns it."""
    with open_client(sim.options()) as client:
        sessions = run_query(client, prepare_cdp_query({"id": uid}))["sessions"]
    assert len(sessions) == 1
    return sessions[0]


class Source:
    """main() running as a task, its queue, and helpers to wait for polls and events."""

    def __init__(self, sim, queue_size=0, **args):
        self.sim = sim
        self.queue = asyncio.Queue(queue_size)
        self.args = dict(host="127.0.0.1", port=sim.port, username=USER, password=PASSWORD, ca_path=sim.ca_file, interval=0.2,
                         retries=0, timeout=5, verdicts=False)
        self.args.update(args)
        self.task = None

    async def __aenter__(self):
        self.task = asyncio.ensure_future(MAIN(self.queue, self.args))
        await self.polls(1)
        return self

    async def __aexit__(self, *exc):
        await self.stop()

    async def stop(self):
        if self.task and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def polls(self, count, timeout=15):
        target = session_polls(self.sim) + count
        for dummy in range(int(timeout / 0.02)):
            if self.task.done():
                self.task.result()
            if session_polls(self.sim) >= target:
                # The poll's events follow its requests: let it deliver them.
                await asyncio.sleep(0.1)
                return
            await asyncio.sleep(0.02)
        raise AssertionError("no poll within %s s" % timeout)

    async def event(self, timeout=10):
        return (await asyncio.wait_for(self.queue.get(), timeout))["veeam_em"]

    def pending(self):
        events = []
        while not self.queue.empty():
            events.append(self.queue.get_nowait()["veeam_em"])
        return events


def run(coroutine):
    return asyncio.run(coroutine)


# -- task sessions ------------------------------------------------------------------------------


def test_failed_and_warning_sessions_raise_one_event_each(sim):
    names = vm_names(sim)
    before = complete(sim, names[0], end_time=utc(-5), reason="Error: CDP proxy cdpproxy01 is unavailable")
    complete(sim, names[1], end_time=utc(-30))  # before the lookback

    async def scenario():
        async with Source(sim) as source:
            first = await source.event()
            warning = complete(sim, names[2], result="Warning", reason="RPO exceeded")
            complete(sim, names[3], result="Success")
            second = await source.event()
            await source.polls(3)
            return first, second, warning, source.pending()

    first, second, warning, rest = run(scenario())
    assert first == {"type": "cdp_task_session", "em_host": "https://127.0.0.1:%d" % sim.port, "session": info_record(sim, before)}
    assert first["session"]["result"] == "Failed"
    assert (second["session"]["uid"], second["session"]["result"]) == (warning, "Warning")
    assert second["session"] == info_record(sim, warning)
    assert rest == []  # no duplicates over later polls, no Success, nothing from before the lookback


def test_results_selects_which_results_raise_events(sim):
    names = vm_names(sim)

    async def scenario():
        async with Source(sim, results=["success"], lookback="-1s") as source:
            complete(sim, names[0], result="Failed")
            success = complete(sim, names[1], result="Success")
            event = await source.event()
            await source.polls(2)
            return event, success, source.pending()

    event, success, rest = run(scenario())
    assert event["session"]["uid"] == success
    assert rest == []


def test_late_recorded_and_mid_poll_sessions_arrive_once(sim):
    names = vm_names(sim)

    async def scenario():
        async with Source(sim) as source:
            on_time = complete(sim, names[0])
            await source.event()
            # EM records a completion two minutes after it happened, after the high-water mark passed that time.
            late = complete(sim, names[1], end_time=utc(-2))
            late_event = await source.event()
            # Sessions created while a poll pages through EM's answer, completed afterwards.
            sim.configure(insert_between_pages=2)
            await source.polls(1)
            sim.configure(insert_between_pages=0)
            with open_client(sim.options()) as client:
                running = run_query(client, prepare_cdp_query({"state": "InProgress", "sort_by": "CreationTimeUTC", "sort_order": "desc",
                                                               "max_records": 2}))["sessions"]
            inserted = [complete(sim, None, uid=record["uid"].split(":")[-1]) for record in running]
            mid_poll = [(await source.event())["session"]["uid"] for dummy in inserted]
            await source.polls(3)
            return on_time, late, late_event, inserted, mid_poll, source.pending()

    on_time, late, late_event, inserted, mid_poll, rest = run(scenario())
    assert late_event["session"]["uid"] == late != on_time
    assert sim.state()["inserted_tasks"] >= 2
    assert sorted(mid_poll) == sorted(inserted)
    assert rest == []


def test_memory_is_bounded_by_the_overlap(sim, tmp_path):
    """UIDs are remembered only while a later poll could return them again."""
    names = vm_names(sim)
    state_file = tmp_path / "state.json"
    # The VMs whose running sessions started longest ago, so that they can end 50, 20 and 12 minutes ago.
    with open_client(sim.options()) as client:
        running = run_query(client, prepare_cdp_query({"state": "InProgress", "sort_by": "CreationTimeUTC"}))["sessions"]
    oldest = [record["vm_display_name"] for record in running]
    uids = [complete(sim, name, end_time=utc(minutes)) for name, minutes in zip(oldest, (-50, -20, -12, 0))]
    records = sorted((info_record(sim, uid) for uid in uids), key=lambda record: record["end_time_utc"])
    newest = UTILS.cdp_watch.parse_em_time(records[-1]["end_time_utc"])
    recent = [record["uid"] for record in records
              if UTILS.cdp_watch.parse_em_time(record["end_time_utc"]) >= newest - UTILS.cdp_watch.OVERLAP]

    async def scenario():
        async with Source(sim, lookback="-1h", state_file=str(state_file)) as source:
            events = [await source.event() for dummy in uids]
            await source.polls(2)
            return events, source.pending()

    events, rest = run(scenario())
    assert [event["session"] for event in events] == records  # in the order they ended
    assert rest == []
    state = json.loads(state_file.read_text())
    assert 1 <= len(recent) < len(uids)
    assert sorted(state["seen"]) == sorted(recent)  # the others ended before the mark minus the overlap


# -- restarts and state ---------------------------------------------------------------------------


def test_restart_with_state_file_neither_repeats_nor_loses(sim, tmp_path):
    names = vm_names(sim)
    state_file = str(tmp_path / "cdp-events.json")
    first = complete(sim, names[0])

    async def scenario():
        async with Source(sim, state_file=state_file, verdicts=True) as source:
            before = [await source.event(), await source.event()]
        while_down = complete(sim, names[1])
        async with Source(sim, state_file=state_file, verdicts=True) as source:
            after = [await source.event(), await source.event()]
            await source.polls(2)
            rest = source.pending()
        # Control: without the state file the lookback raises the first session again.
        async with Source(sim, verdicts=False) as source:
            again = [await source.event(), await source.event()]
        return before, while_down, after, rest, again

    before, while_down, after, rest, again = run(scenario())
    assert sorted((event["type"], event.get("vm")) for event in before) == [("cdp_task_session", None), ("cdp_vm_verdict", names[0])]
    assert [event["session"]["uid"] for event in before if event["type"] == "cdp_task_session"] == [first]
    # After the restart: the new session and the new VM's verdict change, nothing about the first VM again.
    assert sorted((event["type"], event.get("vm")) for event in after) == [("cdp_task_session", None), ("cdp_vm_verdict", names[1])]
    assert [event["session"]["uid"] for event in after if event["type"] == "cdp_task_session"] == [while_down]
    assert [(event["previous_verdict"], event["verdict"]) for event in after if event["type"] == "cdp_vm_verdict"] == [("compliant", "non_compliant")]
    assert rest == []
    assert sorted(event["session"]["uid"] for event in again) == sorted([first, while_down])


def test_cancelled_while_delivering_keeps_undelivered_events(sim, tmp_path):
    """The queue is full: the source is cancelled with one event delivered and one not."""
    names = vm_names(sim)
    state_file = str(tmp_path / "cdp-events.json")
    uids = [complete(sim, names[0], end_time=utc(-3)), complete(sim, names[1], end_time=utc(-2))]

    async def scenario():
        source = Source(sim, queue_size=1, state_file=state_file)
        await source.__aenter__()
        await asyncio.sleep(0.3)
        assert source.queue.full()
        await source.stop()
        delivered = await source.event()
        async with Source(sim, state_file=state_file) as source:
            redelivered = await source.event()
            await source.polls(2)
            return delivered, redelivered, source.pending()

    delivered, redelivered, rest = run(scenario())
    assert [delivered["session"]["uid"], redelivered["session"]["uid"]] == uids
    assert rest == []


def test_unreadable_state_file_is_a_bad_argument(sim, tmp_path):
    state_file = tmp_path / "cdp-events.json"
    state_file.write_text("{not json")
    with pytest.raises(InvalidInputError, match="state_file"):
        run(MAIN(asyncio.Queue(), Source(sim, state_file=str(state_file)).args))
    assert sim.requests == []


# -- verdicts -----------------------------------------------------------------------------------


def test_first_poll_raises_only_attention_verdicts(em_cert_dir):
    sim = make_sim(em_cert_dir, profile="realistic", vms=24)
    try:
        with open_client(sim.options()) as client:
            report = UTILS.cdp_watch.run_audit(client, UTILS.cdp_watch.prepare_audit({"window_start": "-24h"}))["report"]
        expected = sorted((vm["name"], vm["status"]) for vm in report["vms"] if vm["status"] in ("warning", "non_compliant"))
        assert expected

        async def scenario():
            async with Source(sim, verdicts=True, verdict_interval=0.2) as source:
                await source.polls(3)
                return source.pending()

        events = run(scenario())
    finally:
        sim.server.stop()
    assert sorted((event["vm"], event["verdict"]) for event in events) == expected
    for event in events:
        assert event["type"] == "cdp_vm_verdict" and event["previous_verdict"] is None
        assert event["findings"] and all(finding["message"] for finding in event["findings"])
        assert event["policy"]


def test_verdict_change_event(sim):
    names = vm_names(sim)

    async def scenario():
        async with Source(sim, verdicts=True, results=[]) as source:
            await source.polls(1)
            assert source.pending() == []  # healthy data: the baseline raises nothing
            complete(sim, names[2], reason="Error: Insufficient free space")
            event = await source.event()
            await source.polls(3)
            return event, source.pending()

    event, rest = run(scenario())
    assert (event["type"], event["vm"], event["previous_verdict"], event["verdict"]) == ("cdp_vm_verdict", names[2], "compliant", "non_compliant")
    assert any("Insufficient free space" in finding["message"] for finding in event["findings"])
    assert rest == []  # results: [] raises no session events, and an unchanged verdict no second event


# -- EM sessions, outages, cancellation ------------------------------------------------------------


def test_one_logon_reused_and_renewed_after_expiry(sim):
    names = vm_names(sim)

    async def scenario():
        async with Source(sim) as source:
            await source.polls(3)
            assert sim.state()["logons"] == 1
            sim.expire()
            uid = complete(sim, names[0])
            event = await source.event()
            await source.polls(2)
            return uid, event, source.pending()

    uid, event, rest = run(scenario())
    assert event["session"]["uid"] == uid
    assert rest == []
    state = sim.state()
    assert (state["logons"], state["logoffs"], state["open_sessions"]) == (2, 1, 0)


def test_em_down_backs_off_then_recovers(sim, caplog):
    names = vm_names(sim)
    caplog.set_level(logging.INFO)

    async def scenario():
        async with Source(sim, interval=0.1) as source:
            sim.faults({"on": "any", "action": "reset", "times": -1})
            down = await source.event()
            before = sim.state()["faults_fired"]
            await asyncio.sleep(2.0)
            attempts = sim.state()["faults_fired"] - before
            still_down = source.pending()
            sim.control("DELETE", "/_sim/faults")
            uid = complete(sim, names[0])
            recovered = await source.event(timeout=15)
            after = await source.event()
            return down, attempts, still_down, recovered, uid, after

    down, attempts, still_down, recovered, uid, after = run(scenario())
    assert (down["type"], down["status"]) == ("em_status", "unreachable")
    assert down["error"] and down["em_host"] == "https://127.0.0.1:%d" % sim.port
    # 0.1 s apart without back-off would be about 20 attempts; doubling gives 4 or 5.
    assert 1 <= attempts <= 6
    assert still_down == []  # one unreachable event per outage
    assert (recovered["status"], recovered["error"]) == ("recovered", None)
    assert after["session"]["uid"] == uid
    assert PASSWORD not in caplog.text and PASSWORD not in json.dumps([down, recovered, after])
    assert "unreachable" in caplog.text


def test_cancel_logs_off_and_nothing_secret_is_logged(sim, caplog):
    caplog.set_level(logging.DEBUG)
    names = vm_names(sim)

    async def scenario():
        async with Source(sim, verdicts=True) as source:
            complete(sim, names[0])
            events = [await source.event(), await source.event()]
            secrets = [secret for token, session in sim.server.sim.sessions.items() for secret in (token, session.session_id)]
            assert sim.state()["open_sessions"] == 1
        return events, secrets

    events, secrets = run(scenario())
    state = sim.state()
    assert (state["open_sessions"], state["logons"], state["logoffs"]) == (0, 1, 1)
    assert "stopped and logged off" in caplog.text
    assert len(secrets) == 2
    text = caplog.text + json.dumps(events)
    for secret in [PASSWORD] + secrets:
        assert secret not in text


def test_connection_from_the_environment(sim, monkeypatch):
    """The VEEAM_EM_* fallbacks of the modules: a rulebook may give no connection argument at all."""
    monkeypatch.setenv("VEEAM_EM_HOST", "https://127.0.0.1:%d" % sim.port)
    monkeypatch.setenv("VEEAM_EM_USERNAME", USER)
    monkeypatch.setenv("VEEAM_EM_PASSWORD", PASSWORD)
    monkeypatch.setenv("VEEAM_EM_CA_PATH", sim.ca_file)
    monkeypatch.setenv("VEEAM_EM_RETRIES", "0")
    names = vm_names(sim)

    async def scenario():
        source = Source(sim)
        for name in ("host", "port", "username", "password", "ca_path", "retries"):
            del source.args[name]
        async with source:
            uid = complete(sim, names[0])
            return uid, await source.event()

    uid, event = run(scenario())
    assert event["session"]["uid"] == uid


def test_connection_arguments_follow_the_option_table():
    names = UTILS.eda_options.connection_arguments()
    assert names == [name for name in CONNECTION_OPTIONS if name != "session_id"]
    environ = {option["env"]: "7" for name, option in CONNECTION_OPTIONS.items() if option["type"] == "int"}
    values = UTILS.eda_options.connection_values({}, environ)
    assert all(values[name] == 7 for name in names if CONNECTION_OPTIONS[name]["type"] == "int")
    defaults = ConnectionConfig.from_options({"host": "em", "username": "u", "password": "p"})
    parsed = UTILS.eda_options.source_options({"host": "em", "username": "u", "password": "p"}, environ={})
    assert vars(ConnectionConfig.from_options(parsed["connection"])) == vars(defaults)
    assert (parsed["interval"], parsed["lookback"], parsed["results"], parsed["verdicts"]) == (60.0, "-15m", ["Failed", "Warning"], True)


@pytest.mark.parametrize("args, option", [
    ({"interval": "soon"}, "interval"),
    ({"interval": 0}, "interval"),
    ({"lookback": "+1h"}, "lookback"),
    ({"lookback": "a while"}, "lookback"),
    ({"results": ["Failed", "Broken"]}, "results"),
    ({"state_file": "/nonexistent-dir/cdp.json"}, "state_file"),
    ({"verdicts": "maybe"}, "verdicts"),
    ({"verdict_window": "tomorrow"}, "verdict_window"),
    ({"rules": {"no_such_rule": {}}}, "rules"),
    ({"port": "https"}, "port"),
    ({"validate_certs": "perhaps"}, "validate_certs"),
    ({"session_id": "abc"}, "session_id"),
    ({"intervall": 60}, "intervall"),
    ({"host": None}, "host"),
    ({"password": None}, "password"),
])
def test_bad_argument_stops_at_once_naming_it(sim, args, option):
    source = Source(sim)
    source.args.update(args)
    source.args = {key: value for key, value in source.args.items() if value is not None}
    with pytest.raises(InvalidInputError) as caught:
        run(asyncio.wait_for(MAIN(source.queue, source.args), 10))
    assert "option '%s" % option in str(caught.value)
    assert sim.requests == []  # nothing was sent to EM


def test_state_file_of_another_em_starts_afresh(sim, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    names = vm_names(sim)
    state_file = tmp_path / "cdp-events.json"
    uid = complete(sim, names[0])
    state_file.write_text(json.dumps({"version": 1, "em_host": "https://other-em.example.com:9398", "watermark": utc(1),
                                      "seen": {uid: utc()}, "verdicts": {names[0]: "non_compliant"}}))

    async def scenario():
        async with Source(sim, state_file=str(state_file)) as source:
            return await source.event()

    event = run(scenario())
    assert event["session"]["uid"] == uid  # the other EM's mark and UIDs were not applied
    assert "belongs to https://other-em.example.com:9398" in caplog.text
    assert json.loads(state_file.read_text())["em_host"] == "https://127.0.0.1:%d" % sim.port


def test_verdict_interval_spaces_the_audits(sim):
    def audits():
        return sum(1 for req in sim.query_requests() if req["query"].startswith("type=CdpPolicy&") and req["query"].endswith("&page=1"))

    async def scenario():
        async with Source(sim, verdicts=True, interval=0.1, verdict_interval=60) as source:
            await source.polls(8)
            return audits()

    assert run(scenario()) == 1


def test_documentation_matches_the_arguments():
    """DOCUMENTATION (ansible-doc style, as ansible.eda's sources have it) lists exactly the accepted arguments."""
    documentation = yaml.safe_load(MODULE["DOCUMENTATION"])
    options = documentation["options"]
    assert sorted(options) == sorted(UTILS.eda_options.connection_arguments() + list(UTILS.eda_options.SOURCE_ARGUMENTS))
    for name in UTILS.eda_options.connection_arguments():
        table = CONNECTION_OPTIONS[name]
        assert options[name]["type"] == table["type"], name
        assert options[name].get("default") == table["default"], name
        assert table["env"] in " ".join(options[name]["description"] if isinstance(options[name]["description"], list)
                                        else [options[name]["description"]]), name
    assert options["interval"]["default"] == UTILS.eda_options.DEFAULT_INTERVAL
    assert options["lookback"]["default"] == UTILS.eda_options.DEFAULT_LOOKBACK
    assert options["results"]["default"] == list(UTILS.eda_options.DEFAULT_RESULTS)
    assert options["verdict_window"]["default"] == UTILS.eda_options.DEFAULT_VERDICT_WINDOW
    examples = yaml.safe_load(MODULE["EXAMPLES"])
    assert "veeam.enterprise_manager.cdp_events" in examples[0]["sources"][0]
