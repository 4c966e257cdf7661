"""Deterministic EM data set: backup servers, CDP policies, policy sessions, task sessions.

Records are stored as tuples (millions of them must fit in memory); times are
integer microseconds since the Unix epoch, UTC.

Task session tuple:   (guid, vm_index, policy_session_index, creation_us, end_us|None,
                       state, result, reason|None, total_size)
Policy session tuple: (guid, policy_index, creation_us, end_us|None, state, result,
                       failure_message, progress, is_retry)
"""

import bisect
import datetime
import random
import time

US = 1000000
HOUR = 3600 * US
DAY = 24 * HOUR
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

T_GUID, T_VM, T_PSESSION, T_CREATED, T_ENDED, T_STATE, T_RESULT, T_REASON, T_SIZE = range(9)
P_GUID, P_POLICY, P_CREATED, P_ENDED, P_STATE, P_RESULT, P_FAILURE, P_PROGRESS, P_RETRY = range(9)

FIXTURE_SERVER = {'guid': 'beda8585-1354-451c-afe2-646dcf42afa6', 'name': 'backupsrv29.tech.local'}
FIXTURE_POLICY_GUID = '872a3860-3805-43b8-bcf6-388384bfed33'
FIXTURE_VM = 'virt03-ubuntu01'
GIB = 1024 ** 3

# (RPO seconds, MarkAsWarning enabled, MarkAsFailed enabled, ScheduleEnabled)
POLICY_PLAN = (
    (15, True, True, True), (60, True, False, True), (300, False, True, True), (900, False, False, True),
    (15, False, False, True), (60, False, True, False), (300, True, False, True), (900, True, True, True),
)
DISABLED_POLICY = 5
POLICY_NAMES = ('CDP Policy', 'CDP Tier0 Databases', 'CDP Tier1 Apps', 'CDP Tier2 Web',
                'CDP DR Site B', 'CDP Legacy (disabled)', 'CDP File Servers', 'CDP Kubernetes Nodes')

FAILED_REASONS = (
    'Error: Failed to connect to the target host esx02.tech.local: Connection timed out',
    'Error: Insufficient free space on datastore "ds-replica-02" to store CDP replica disks',
    "Error: The object 'vim.VirtualMachine:vm-1042' has already been deleted or has not been completely created",
    'Error: CDP proxy cdpproxy01.tech.local is unavailable',
)
WARNING_REASONS = (
    'RPO exceeded: the latest restore point is 00:01:23 old, the policy RPO is 00:00:15',
    'Short-term retention requirement was not met: 3 h 40 min of 4 h kept',
    'I/O filter on host esx01.tech.local reported a temporary transfer delay',
)
POLICY_FAILURES = (
    'Failed to process CDP policy: 2 of 12 objects failed',
    'Lost connection to the I/O filter on host esx03.tech.local',
)

# Anomalies of the "realistic" profile, each put on its own VM(s).
ANOMALY_PLAN = (
    ('never_run', 1), ('protection_stopped', 2), ('stuck_in_progress', 1), ('stuck_pending', 1),
    ('coverage_gap', 2), ('overlapping', 1), ('failed_sessions', 2), ('warning_sessions', 2),
)
SPECIAL_VM_NAMES = ('Finance DB 01', 'O"Brien-app', 'web;01,a+b', 'caf\u00e9-srv')
_VM_ROLES = ('web', 'db', 'app', 'file', 'dc', 'mail', 'k8s', 'sql', 'erp', 'crm')
_VM_SITES = ('fra', 'ams', 'lon', 'nyc', 'sin')
_VM_SIZES_GIB = (16, 16, 32, 40, 60, 80, 100, 127, 200, 500)


def us_from_datetime(value):
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def parse_iso_us(text):
    """Lenient ISO 8601 (for --now / control API) -> microseconds."""
    text = text.strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    return us_from_datetime(datetime.datetime.fromisoformat(text))


def fmt_iso(micros):
    """EM style: 2021-06-15T07:00:06.787Z (fraction trimmed of trailing zeros, none if zero)."""
    secs, frac = divmod(micros, US)
    text = '%04d-%02d-%02dT%02d:%02d:%02d' % time.gmtime(secs)[:6]
    if frac:
        text += '.' + ('%06d' % frac).rstrip('0')
    return text + 'Z'


def fmt_name_time(micros):
    return '%04d-%02d-%02d %02d:%02d:%02d' % time.gmtime(micros // US)[:6]


def default_now_us_exact():
    return us_from_datetime(datetime.datetime.now(datetime.timezone.utc))


def default_now_us():
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    return us_from_datetime(now)


def _guid(rng):
    text = '%032x' % rng.getrandbits(128)
    return '%s-%s-4%s-%s%s-%s' % (text[:8], text[8:12], text[13:16], '89ab'[int(text[16], 16) & 3],
                                  text[17:20], text[20:32])


class Dataset(object):
    """All simulated EM data for one seed/profile; see module docstring for record layouts."""

    def __init__(self, seed=42, vms=40, days=30, interval_hours=8, now=None, profile='realistic', twin_vms=0):
        if profile not in ('realistic', 'healthy'):
            raise ValueError('profile must be realistic or healthy')
        if vms < 0 or days <= 0 or interval_hours <= 0:
            raise ValueError('vms must be >= 0, days and interval_hours > 0')
        if not isinstance(twin_vms, int) or isinstance(twin_vms, bool) or twin_vms < 0:
            raise ValueError('twin_vms must be a non-negative integer')
        self.twin_vms = twin_vms
        self.twins = []
        self.seed = seed
        self.vm_count = vms
        self.days = days
        self.interval_hours = interval_hours
        self.profile = profile
        self.now_us = default_now_us() if now is None else (parse_iso_us(now) if isinstance(now, str) else int(now))
        self.rng = random.Random(seed)
        self.servers = []
        self.policies = []
        self.vm_names = []
        self.vm_policy = []        # policy index, or -1 when not included in any policy
        self.psessions = []
        self.tasks = []
        self.truth = {}
        self._ps_by_policy = {}    # policy index -> (sorted creation list, psession indices)
        self._ps_names = {}
        self.anomaly_of = {}       # vm index -> anomaly kind (realistic profile)
        self.special_vms = []
        self.vm_size = []
        self.vm_truth = {}
        self.disabled_at_us = self.now_us - 2 * DAY - 5 * HOUR
        self.fixture_vm = -1
        self.max_task_created = 0
        self._build()

    # ------------------------------------------------------------------ build
    def _build(self):
        rng = self.rng
        self.servers = [dict(FIXTURE_SERVER),
                        {'guid': _guid(rng), 'name': 'backupsrv30.tech.local'},
                        {'guid': _guid(rng), 'name': 'backupsrv31.lab.local'}]
        for idx, (rpo, warn, fail, enabled) in enumerate(POLICY_PLAN):
            self.policies.append({
                'guid': FIXTURE_POLICY_GUID if idx == 0 else _guid(rng),
                'name': POLICY_NAMES[idx],
                'server': 0 if idx == 0 else idx % 3,
                'rpo_seconds': rpo,
                'warn_enabled': warn,
                'fail_enabled': fail,
                'schedule_enabled': enabled,
                'description': 'Created by EMLAB\\Administrator',
                'phase_us': (idx * 2 + 13) * HOUR % DAY + rng.randrange(0, 60 * US, 1000),
                'vms': [],
            })
        self._build_vms()
        self._build_policy_sessions()
        self._build_fixture()
        self._build_tasks()
        self._build_twins()
        self.max_task_created = max(rec[T_CREATED] for rec in self.tasks)
        self._finish_truth()

    def _build_vms(self):
        rng = self.rng
        names = []
        special = list(SPECIAL_VM_NAMES) if self.profile == 'realistic' else []
        for idx in range(self.vm_count):
            if idx < len(special) and self.vm_count >= 20:
                names.append(special[idx])
                continue
            names.append('%s-%s-%05d' % (_VM_SITES[idx % len(_VM_SITES)], _VM_ROLES[(idx // 5) % len(_VM_ROLES)], idx + 1))
        self.vm_names = names
        enabled = [idx for idx, pol in enumerate(self.policies) if pol['schedule_enabled']]
        self.vm_policy = [enabled[idx % len(enabled)] for idx in range(self.vm_count)]
        order = list(range(self.vm_count))
        rng.shuffle(order)
        if self.profile == 'realistic':
            cursor = 0
            for kind, count in ANOMALY_PLAN:
                for number in range(count):
                    if cursor >= len(order):
                        break
                    vm = order[cursor]
                    cursor += 1
                    self.anomaly_of[vm] = kind
                    if kind == 'protection_stopped' and number == 0:
                        self.vm_policy[vm] = DISABLED_POLICY
        self.special_vms = special[:self.vm_count] if self.vm_count >= 20 else []
        for vm, pol in enumerate(self.vm_policy):
            self.policies[pol]['vms'].append(vm)
        self.vm_size = [_VM_SIZES_GIB[rng.randrange(len(_VM_SIZES_GIB))] * GIB for dummy in range(self.vm_count)]

    def _build_policy_sessions(self):
        rng = self.rng
        start = self.now_us - (self.days + 1) * DAY
        for pidx, pol in enumerate(self.policies):
            until = self.now_us if pol['schedule_enabled'] else self.disabled_at_us
            created = start - start % DAY + pol['phase_us']
            times = []
            while created <= until - 60 * US:
                times.append(created)
                created += DAY + rng.randrange(0, 90 * US, 10000)
            for num, ctime in enumerate(times):
                last = num == len(times) - 1
                if last and pol['schedule_enabled']:
                    rec = (_guid(rng), pidx, ctime, None, 'Working', 'None', '', 0, False)
                else:
                    end = until if last else times[num + 1]
                    result, failure = 'Success', ''
                    if self.profile == 'realistic':
                        roll = rng.random()
                        if roll < 0.08:
                            result, failure = 'Failed', POLICY_FAILURES[rng.randrange(len(POLICY_FAILURES))]
                        elif roll < 0.16:
                            result = 'Warning'
                    rec = (_guid(rng), pidx, ctime, end, 'Stopped', result, failure, 100, False)
                self.psessions.append(rec)

    def _build_fixture(self):
        """The three virt03-ubuntu01 sessions of Veeam's doc example (June 2021), verbatim."""
        base = len(self.psessions)
        self.psessions.append(('042da2cf-86a9-4d09-9766-be90f3ccd506', 0, parse_iso_us('2021-06-14T15:00:24.31Z'),
                               parse_iso_us('2021-06-15T15:00:08.847Z'), 'Stopped', 'Success', '', 100, False))
        self.psessions.append(('30a2b685-f858-4f15-9ef6-d3b007a99d2d', 0, parse_iso_us('2021-06-15T15:00:08.847Z'),
                               parse_iso_us('2021-06-16T15:00:53.78Z'), 'Stopped', 'Failed', '', 0, False))
        self.fixture_vm = len(self.vm_names)
        self.vm_names.append(FIXTURE_VM)
        self.vm_policy.append(-1)
        self.vm_size.append(16 * GIB)
        for guid, psi, created, ended in (
                ('787d754e-6399-46f1-8199-2207f0e8fe20', base, '2021-06-15T07:00:06.787Z', '2021-06-15T15:00:08.847Z'),
                ('0e9b9a27-15fd-4dee-98f9-5a98f0d89a3e', base + 1, '2021-06-15T15:00:09.05Z', '2021-06-15T23:00:06.493Z'),
                ('136e9284-b6b3-44f2-ad04-af57a610c3cd', base + 1, '2021-06-15T23:00:06.51Z', '2021-06-16T07:00:06.663Z')):
            self.tasks.append((guid, self.fixture_vm, psi, parse_iso_us(created), parse_iso_us(ended),
                               'Completed', 'Success', None, 17179869184))
        for pidx in range(len(self.policies)):
            pairs = sorted((rec[P_CREATED], idx) for idx, rec in enumerate(self.psessions) if rec[P_POLICY] == pidx)
            self._ps_by_policy[pidx] = ([p[0] for p in pairs], [p[1] for p in pairs])

    def covering_psession(self, pidx, created):
        times, indices = self._ps_by_policy[pidx]
        pos = bisect.bisect_right(times, created) - 1
        return indices[max(pos, 0)]

    def _build_tasks(self):
        rng = self.rng
        interval = int(self.interval_hours * HOUR)
        window_start = self.now_us - self.days * DAY
        getbits = rng.getrandbits
        randrange = rng.randrange
        tasks = self.tasks
        reason_turns = {'Failed': 0, 'Warning': 0}
        for vm in range(self.vm_count):
            kind = self.anomaly_of.get(vm)
            pidx = self.vm_policy[vm]
            size = self.vm_size[vm]
            if kind == 'never_run':
                self.vm_truth[vm] = {}
                continue
            until = self.now_us
            last_state = 'InProgress'
            if kind == 'protection_stopped':
                until = self.disabled_at_us if pidx == DISABLED_POLICY else self.now_us - 36 * HOUR
                last_state = 'Completed'
            elif kind == 'stuck_in_progress':
                until = self.now_us - max(interval + 6 * HOUR, 10 * HOUR)
            elif kind == 'stuck_pending':
                until = self.now_us - 45 * 60 * US
            anchor = window_start - randrange(0, interval, 1000)
            starts = []
            created = anchor
            while created <= until - 60 * US:
                starts.append(created + randrange(0, 20 * US, 1000))
                created += interval
            if kind == 'stuck_pending':
                starts.append(until)
            if kind == 'stuck_in_progress' and starts:
                starts[-1] = min(starts[-1], until)
            info = {}
            mid = len(starts) * 2 // 5
            special = set()
            if kind in ('failed_sessions', 'warning_sessions') and len(starts) > 4:
                special = {mid, mid + 2}
            gap_index = mid if kind == 'coverage_gap' and len(starts) > 3 else -1
            count = len(starts)
            first_uid = len(tasks)
            for num in range(count):
                if num == gap_index:
                    info = {'gap_start': starts[num], 'gap_end': starts[num + 1]}
                    continue
                text = '%032x' % getbits(128)
                guid = '%s-%s-4%s-a%s-%s' % (text[:8], text[8:12], text[13:16], text[17:20], text[20:32])
                ctime = starts[num]
                state, result, reason = 'Completed', 'Success', None
                if num == count - 1:
                    if last_state == 'Completed':
                        end = min(ctime + interval - randrange(100000, 400000, 1000), until)
                    else:
                        end = None
                        state = last_state if kind != 'stuck_pending' else 'Pending'
                        result = 'None' if kind == 'stuck_pending' else 'Success'
                else:
                    end = starts[num + 1] - randrange(100000, 400000, 1000)
                if num in special:
                    # Reasons go round in turn, so every data set has each one (the filter tests need the quoted
                    # and the comma ones whatever "now" is); the draw stays, so the rest of the data set is unchanged.
                    if kind == 'failed_sessions':
                        result, reasons = 'Failed', FAILED_REASONS
                    else:
                        result, reasons = 'Warning', WARNING_REASONS
                    randrange(len(reasons))
                    reason = reasons[reason_turns[result] % len(reasons)]
                    reason_turns[result] += 1
                    info.setdefault('sessions', []).append(guid)
                tasks.append((guid, vm, self.covering_psession(pidx, ctime), ctime, end, state, result, reason,
                              size + (num % 4) * 64 * 1024 * 1024))
            if kind == 'overlapping' and count > 3:
                base_rec = tasks[first_uid + mid]
                guid = _guid(rng)
                ctime = base_rec[T_CREATED] + HOUR
                tasks.append((guid, vm, self.covering_psession(pidx, ctime), ctime, ctime + 2 * HOUR, 'Completed',
                              'Success', None, size))
                info = {'sessions': [base_rec[T_GUID], guid]}
            if count:
                info['last_created'] = starts[-1]
            self.vm_truth[vm] = info

    def _build_twins(self):
        """twin_vms namesakes: a second VM with the name of a healthy one, in a policy of another backup server.

        The twin's protection stopped 36 h ago, so the two VMs of one name are judged differently. Twins draw from
        their own random stream and come after every other record: the rest of the data set is unchanged.
        """
        if not self.twin_vms:
            return
        rng = random.Random('twins-%s' % self.seed)
        interval = int(self.interval_hours * HOUR)
        sources = [vm for vm in range(self.vm_count) if vm not in self.anomaly_of and self.vm_names[vm] not in self.special_vms]
        if len(sources) < self.twin_vms:
            raise ValueError('twin_vms must be at most %d for this data set (its healthy, plainly named VMs)' % len(sources))
        for source in sources[:self.twin_vms]:
            source_server = self.policies[self.vm_policy[source]]['server']
            pidx = next(idx for idx, pol in enumerate(self.policies) if pol['schedule_enabled'] and pol['server'] != source_server)
            vm = len(self.vm_names)
            self.vm_names.append(self.vm_names[source])
            self.vm_policy.append(pidx)
            self.vm_size.append(self.vm_size[source])
            self.policies[pidx]['vms'].append(vm)
            until = self.now_us - 36 * HOUR
            created = self.now_us - self.days * DAY - rng.randrange(0, interval, 1000)
            end = None
            while created + interval <= until:
                end = created + interval - rng.randrange(100000, 400000, 1000)
                self.tasks.append((_guid(rng), vm, self.covering_psession(pidx, created), created, end, 'Completed', 'Success',
                                   None, self.vm_size[vm]))
                created += interval
            self.twins.append({'vm': self.vm_names[vm], 'anomaly': 'protection_stopped', 'last_end': fmt_iso(end) if end else None,
                               'policy': self.policies[pidx]['name'],
                               'backup_server': self.servers[self.policies[pidx]['server']]['name'],
                               'namesake_policy': self.policies[self.vm_policy[source]]['name'],
                               'namesake_backup_server': self.servers[source_server]['name']})

    def _finish_truth(self):
        anomalies = {}
        for vm, kind in sorted(self.anomaly_of.items()):
            entry = {'vm': self.vm_names[vm], 'policy': self.policies[self.vm_policy[vm]]['name']}
            for key, value in self.vm_truth.get(vm, {}).items():
                entry[key] = fmt_iso(value) if isinstance(value, int) else value
            anomalies.setdefault(kind, []).append(entry)
        self.truth = {
            'profile': self.profile,
            'seed': self.seed,
            'now': fmt_iso(self.now_us),
            'interval_hours': self.interval_hours,
            'days': self.days,
            'vm_count': self.vm_count,
            'anomalies': anomalies,
            'anomalous_vms': sorted(self.vm_names[vm] for vm in self.anomaly_of),
            'special_names': list(self.special_vms),
            'disabled_policy': self.policies[DISABLED_POLICY]['name'],
            'policies': dict((pol['name'], {'uid': 'urn:veeam:CdpPolicy:' + pol['guid'], 'rpo_seconds': pol['rpo_seconds'],
                                            'schedule_enabled': pol['schedule_enabled'],
                                            'vms': [self.vm_names[vm] for vm in pol['vms']]}) for pol in self.policies),
            'disabled_at': fmt_iso(self.disabled_at_us),
            'twins': list(self.twins),
            'fixture': {'vm': FIXTURE_VM, 'included_in_policy': False, 'sessions': 3,
                        'note': 'historical sessions of June 2021 only (Veeam doc example)'},
        }

    # ------------------------------------------------------------------ mutation
    def insert_newest_tasks(self, count):
        """Append count InProgress task sessions newer than every existing one (paging-drift tests)."""
        if not self.vm_count or count <= 0:
            return 0
        newest = self.max_task_created
        rng = self.rng
        for num in range(count):
            vm = (len(self.tasks) + num) % self.vm_count
            ctime = newest + (num + 1) * US
            pidx = self.vm_policy[vm]
            self.tasks.append((_guid(rng), vm, self.covering_psession(pidx, ctime), ctime, None, 'InProgress',
                               'Success', None, self.vm_size[vm]))
        self.max_task_created = newest + count * US
        return count

    def complete_task(self, uid=None, vm=None, result='Failed', reason=None, end_us=None, successor=True):
        """Complete a running task session (by UID, else the newest running one of VM `vm`) with `result`.

        `end_us` defaults to the current time (EM records the completion when it happens, however old
        the session). With `successor` a new InProgress session of the VM starts right after it, as
        CDP does. Returns (completed guid, successor guid or None).
        """
        running = ('InProgress', 'Pending')
        index = None
        for pos in range(len(self.tasks) - 1, -1, -1):
            rec = self.tasks[pos]
            if rec[T_STATE] not in running:
                continue
            if (uid is not None and rec[T_GUID] == uid) or (uid is None and self.vm_names[rec[T_VM]] == vm):
                index = pos
                break
        if index is None:
            raise ValueError('no running task session %s' % ('with UID %s' % uid if uid else 'of VM %r' % (vm,)))
        rec = self.tasks[index]
        end = max(default_now_us_exact() if end_us is None else end_us, rec[T_CREATED] + 1000)
        self.tasks[index] = rec[:T_ENDED] + (end, 'Completed', result, reason or None) + rec[T_SIZE:]
        new_guid = None
        if successor:
            # Appended records must be the newest: the query index extends its creation order in place.
            ctime = max(end + 1000, self.max_task_created + US)
            new_guid = _guid(self.rng)
            pidx = self.vm_policy[rec[T_VM]]
            psession = self.covering_psession(pidx, ctime) if pidx >= 0 else rec[T_PSESSION]
            self.tasks.append((new_guid, rec[T_VM], psession, ctime, None, 'InProgress', 'Success', None, rec[T_SIZE]))
            self.max_task_created = ctime
        return rec[T_GUID], new_guid

    # ------------------------------------------------------------------ accessors
    def policy_of_psession(self, psi):
        return self.policies[self.psessions[psi][P_POLICY]]

    def server_of_policy(self, policy):
        return self.servers[policy['server']]

    def psession_name(self, psi):
        name = self._ps_names.get(psi)
        if name is None:
            name = self._ps_names[psi] = self.psession_name_of(self.psessions[psi])
        return name

    def psession_name_of(self, rec):
        return '%s@%s' % (self.policies[rec[P_POLICY]]['name'], fmt_name_time(rec[P_CREATED]))

    def task_name(self, rec):
        return '%s@%s' % (self.vm_names[rec[T_VM]], fmt_name_time(rec[T_CREATED]))

    def counts(self):
        return {'CdpReplicaTaskSession': len(self.tasks), 'CdpReplicaSession': len(self.psessions),
                'CdpPolicy': len(self.policies), 'BackupServer': len(self.servers), 'Vm': self.vm_count}
