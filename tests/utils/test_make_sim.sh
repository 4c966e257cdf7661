#!/usr/bin/env bash
# `make sim` starts the simulator, prints its URL, CA file, credentials and ANSIBLE_COLLECTIONS_PATH, serves a logon
# with what it printed, and stops cleanly on Ctrl-C (SIGINT to its process group, as a terminal sends it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
PYTHON="${PYTHON:-$repo_root/.venv/bin/python}"
state_dir="$repo_root/.build/simulator-sim"
work="$(mktemp -d)"
log="$work/make-sim.log"
make_pid=""

cleanup() {
    if [ -n "$make_pid" ] && kill -0 "$make_pid" 2>/dev/null; then
        kill -TERM -- "-$make_pid" 2>/dev/null || true
    fi
    "$here/simulator.sh" stop "$state_dir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "make sim test FAILED: $*" >&2
    echo "--- make sim output:" >&2
    cat "$log" >&2 || true
    exit 1
}

# make and its children get a process group of their own, which the test interrupts like a terminal would. SIGINT is
# set back to its default: a command started with & by a non-interactive shell inherits it ignored.
"$PYTHON" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' \
    make --no-print-directory -C "$repo_root" sim >"$log" 2>&1 </dev/null &
make_pid=$!

for _ in $(seq 1 300); do
    grep -q 'Press Ctrl-C to stop the simulator' "$log" && break
    kill -0 "$make_pid" 2>/dev/null || fail "make sim ended before it printed the connection details"
    sleep 0.2
done
grep -q 'Press Ctrl-C to stop the simulator' "$log" || fail "no connection details after 60 s"

url="$(sed -n 's/^  URL: *\(https:[^ ]*\).*/\1/p' "$log")"
ca="$(sed -n 's/^  CA file: *//p' "$log")"
user="$(sed -n 's/^  user name: *//p' "$log")"
password="$(sed -n 's/^  password: *//p' "$log")"
grep -q "export ANSIBLE_COLLECTIONS_PATH='$repo_root/.build'" "$log" || fail "ANSIBLE_COLLECTIONS_PATH not printed"
if [ -z "$url" ] || [ ! -s "$ca" ] || [ -z "$user" ] || [ -z "$password" ]; then
    fail "URL, CA file or credentials missing"
fi

# A logon and logoff with exactly what was printed, TLS verified with the printed CA.
"$PYTHON" - "$url" "$ca" "$user" "$password" <<'PY' || fail "logon with the printed details failed"
import sys

import requests

url, ca, user, password = sys.argv[1:5]
json = {"Accept": "application/json"}
answer = requests.post(url + "/api/sessionMngr/?v=latest", auth=(user, password), headers=json, verify=ca, timeout=10)
assert answer.status_code == 201, answer.status_code
headers = dict(json, **{"X-RestSvcSessionId": answer.headers["X-RestSvcSessionId"]})
logoff = requests.delete(url + "/api/logonSessions/" + answer.json()["SessionId"], headers=headers, verify=ca, timeout=10)
assert logoff.status_code == 204, logoff.status_code
PY

sim_pid="$(tr -dc '0-9' <"$state_dir/simulator.pid")"
if [ -z "$sim_pid" ] || ! kill -0 "$sim_pid" 2>/dev/null; then
    fail "no running simulator pid in $state_dir"
fi

# Ctrl-C.
kill -INT -- "-$make_pid"
for _ in $(seq 1 100); do
    kill -0 "$make_pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$make_pid" 2>/dev/null && fail "make sim still running 10 s after Ctrl-C"
make_pid=""
# make returns at once; with_simulator.sh's exit trap may still be stopping the simulator (SIGTERM, up to 10 s).
for _ in $(seq 1 150); do
    kill -0 "$sim_pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$sim_pid" 2>/dev/null && fail "the simulator (pid $sim_pid) survived Ctrl-C by 15 s"
[ ! -e "$state_dir/simulator.pid" ] || fail "the simulator's pid file was left behind"
"$PYTHON" - "$url" <<'PY' || fail "the simulator's port still answers after Ctrl-C"
import socket
import sys
import urllib.parse

port = urllib.parse.urlsplit(sys.argv[1]).port
with socket.socket() as probe:
    probe.settimeout(2)
    sys.exit(0 if probe.connect_ex(("127.0.0.1", port)) != 0 else 1)
PY
echo "make sim test passed: started at $url, logon with the printed credentials worked, Ctrl-C stopped it cleanly"
