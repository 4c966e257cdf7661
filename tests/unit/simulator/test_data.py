"""Data generator: determinism, profiles, anomalies, fixture, scale."""

import time

import pytest

from emsim import data
from emsim.data import (HOUR, T_CREATED, T_ENDED, T_GUID, T_PSESSION, T_REASON, T_RESULT, T_STATE, T_VM, Dataset,
                        fmt_iso, parse_iso_us)

NOW = '2025-06-20T12:00:00Z'


def _by_vm(ds):
    out = {}
    for rec in ds.tasks:
        out.setdefault(ds.vm_names[rec[T_VM]], []).append(rec)
    for recs in out.values():
        recs.sort(key=lambda rec: rec[T_CREATED])
    return out


def test_same_seed_same_data():
    first = Dataset(seed=7, vms=30, days=5, now=NOW)
    second = Dataset(seed=7, vms=30, days=5, now=NOW)
    assert first.tasks == second.tasks and first.psessions == second.psessions and first.truth == second.truth
    assert Dataset(seed=8, vms=30, days=5, now=NOW).tasks != first.tasks


def test_fmt_iso_matches_em_style():
    assert fmt_iso(parse_iso_us('2021-06-15T15:00:09.050Z')) == '2021-06-15T15:00:09.05Z'
    assert fmt_iso(parse_iso_us('2021-06-15T15:00:09Z')) == '2021-06-15T15:00:09Z'


def test_volume_and_policies():
    ds = Dataset(seed=42, vms=40, days=30, interval_hours=8, now=NOW)
    assert len(ds.servers) == 3 and len(ds.policies) == 8
    combos = {(p['rpo_seconds'], p['warn_enabled'], p['fail_enabled']) for p in ds.policies}
    assert {c[0] for c in combos} == {15, 60, 300, 900} and {(c[1], c[2]) for c in combos} == {
        (True, True), (True, False), (False, True), (False, False)}
    assert [p['schedule_enabled'] for p in ds.policies].count(False) == 1
    assert 40 * 85 < len(ds.tasks) < 40 * 95


def test_task_sessions_point_at_covering_policy_session():
    ds = Dataset(seed=3, vms=20, days=10, now=NOW)
    for rec in ds.tasks:
        ps = ds.psessions[rec[T_PSESSION]]
        assert ps[data.P_CREATED] <= rec[T_CREATED]
        assert ps[data.P_ENDED] is None or rec[T_CREATED] < ps[data.P_ENDED]
        assert ds.policies[ps[data.P_POLICY]]['name'] == ds.psession_name(rec[T_PSESSION]).split('@')[0]


def test_healthy_profile_is_continuous():
    ds = Dataset(seed=5, vms=30, days=10, interval_hours=8, now=NOW, profile='healthy')
    assert ds.truth['anomalies'] == {} and ds.truth['anomalous_vms'] == []
    now = ds.now_us
    for name, recs in _by_vm(ds).items():
        if name == data.FIXTURE_VM:
            continue
        assert recs[0][T_CREATED] <= now - 10 * 24 * HOUR
        assert recs[-1][T_STATE] == 'InProgress' and recs[-1][T_ENDED] is None
        assert now - recs[-1][T_CREATED] < 8 * HOUR
        for prev, cur in zip(recs, recs[1:]):
            assert prev[T_STATE] == 'Completed' and prev[T_RESULT] == 'Success'
            assert 0 < cur[T_CREATED] - prev[T_ENDED] < 1000000
    assert len(_by_vm(ds)) == 31


def test_realistic_anomalies_match_truth():
    ds = Dataset(seed=42, vms=40, days=30, interval_hours=8, now=NOW)
    truth = ds.truth['anomalies']
    assert set(truth) == {'never_run', 'protection_stopped', 'stuck_in_progress', 'stuck_pending', 'coverage_gap',
                          'overlapping', 'failed_sessions', 'warning_sessions'}
    by_vm = _by_vm(ds)
    now = ds.now_us
    for entry in truth['never_run']:
        assert entry['vm'] not in by_vm
        assert entry['vm'] in ds.truth['policies'][entry['policy']]['vms']
    for entry in truth['protection_stopped']:
        last = by_vm[entry['vm']][-1]
        assert last[T_STATE] == 'Completed' and now - last[T_ENDED] > 24 * HOUR
    assert any(e['policy'] == ds.truth['disabled_policy'] for e in truth['protection_stopped'])
    for entry in truth['stuck_in_progress']:
        last = by_vm[entry['vm']][-1]
        assert last[T_STATE] == 'InProgress' and now - last[T_CREATED] > 9 * HOUR
    for entry in truth['stuck_pending']:
        last = by_vm[entry['vm']][-1]
        assert last[T_STATE] == 'Pending' and now - last[T_CREATED] > HOUR // 2
    for entry in truth['coverage_gap']:
        start, end = parse_iso_us(entry['gap_start']), parse_iso_us(entry['gap_end'])
        assert end - start >= 7 * HOUR
        assert not [r for r in by_vm[entry['vm']] if start <= r[T_CREATED] < end]
    for kind, result in (('failed_sessions', 'Failed'), ('warning_sessions', 'Warning')):
        for entry in truth[kind]:
            bad = [r for r in by_vm[entry['vm']] if r[T_RESULT] == result]
            assert sorted(r[T_GUID] for r in bad) == sorted(entry['sessions']) and all(r[T_REASON] for r in bad)
    for entry in truth['overlapping']:
        recs = dict((r[T_GUID], r) for r in by_vm[entry['vm']])
        first, second = (recs[uid] for uid in entry['sessions'])
        assert second[T_CREATED] < first[T_ENDED]
    healthy = set(by_vm) - set(ds.truth['anomalous_vms']) - {data.FIXTURE_VM}
    assert all(r[T_RESULT] == 'Success' for vm in healthy for r in by_vm[vm])


def test_fixture_always_present():
    for profile in ('realistic', 'healthy'):
        ds = Dataset(seed=1, vms=3, days=2, now=NOW, profile=profile)
        fixture = [r for r in ds.tasks if ds.vm_names[r[T_VM]] == 'virt03-ubuntu01']
        assert [r[T_GUID][:8] for r in fixture] == ['787d754e', '0e9b9a27', '136e9284']


def test_insert_newest_tasks():
    ds = Dataset(seed=1, vms=5, days=2, now=NOW)
    newest = max(r[T_CREATED] for r in ds.tasks)
    ds.insert_newest_tasks(4)
    added = ds.tasks[-4:]
    assert all(r[T_CREATED] > newest and r[T_STATE] == 'InProgress' for r in added)
    assert len({r[T_GUID] for r in ds.tasks}) == len(ds.tasks)


def test_twin_vms_add_namesakes_on_another_backup_server_and_change_nothing_else():
    plain = Dataset(seed=7, vms=30, days=5, now=NOW)
    twinned = Dataset(seed=7, vms=30, days=5, now=NOW, twin_vms=2)
    assert twinned.tasks[:len(plain.tasks)] == plain.tasks and twinned.psessions == plain.psessions
    assert twinned.vm_names[:len(plain.vm_names)] == plain.vm_names
    assert len(twinned.twins) == 2 and twinned.truth['twins'] == twinned.twins and plain.truth['twins'] == []
    now = parse_iso_us(NOW)
    for twin in twinned.twins:
        indices = [vm for vm, name in enumerate(twinned.vm_names) if name == twin['vm']]
        assert len(indices) == 2 and indices[0] not in twinned.anomaly_of
        servers = [twinned.server_of_policy(twinned.policies[twinned.vm_policy[vm]])['name'] for vm in indices]
        assert servers == [twin['namesake_backup_server'], twin['backup_server']] and servers[0] != servers[1]
        twin_tasks = [rec for rec in twinned.tasks if rec[T_VM] == indices[1]]
        assert twin_tasks and all(rec[T_STATE] == 'Completed' for rec in twin_tasks)
        assert max(rec[T_ENDED] for rec in twin_tasks) <= now - 36 * HOUR
        assert fmt_iso(max(rec[T_ENDED] for rec in twin_tasks)) == twin['last_end']
        assert twinned.policy_of_psession(twin_tasks[-1][T_PSESSION])['name'] == twin['policy']
    with pytest.raises(ValueError):
        Dataset(seed=7, vms=3, days=5, now=NOW, twin_vms=4)
    with pytest.raises(ValueError):
        Dataset(twin_vms=-1)


def test_invalid_parameters():
    with pytest.raises(ValueError):
        Dataset(profile='chaotic')
    with pytest.raises(ValueError):
        Dataset(days=0)


def test_generation_time_at_one_million(record_property, capsys):
    """Not a timed assertion: reports how long ~1.1M task sessions take to generate."""
    started = time.monotonic()
    ds = Dataset(seed=42, vms=12000, days=30, interval_hours=8, now=NOW)
    elapsed = time.monotonic() - started
    record_property('generation_seconds_1m', round(elapsed, 2))
    with capsys.disabled():
        print('\n[emsim] generated %d task sessions in %.2f s' % (len(ds.tasks), elapsed))
    assert len(ds.tasks) > 1000000
