#!/usr/bin/env bash
# Start, stop or query a TLS EM simulator running in the background.
#
# Usage: simulator.sh start|stop|status STATEDIR [extra simulator args]
#
# STATEDIR holds the port and pid files, the simulator's log and its certificates.
# After `start`, STATEDIR/env is a shell file with EM_SIM_URL, EM_SIM_PORT and
# EM_SIM_CA_PATH. Extra args go after the defaults, so they override them
# (e.g. `--vms 5 --profile clean`). Environment: PYTHON (interpreter for the
# simulator; default .venv/bin/python), SIM_START_TIMEOUT (seconds, default 30),
# SIM_CA_FILE (CA bundle to verify the simulator with; found in the cert dir if unset),
# SIM_SCRIPT (simulator to run instead of tests/simulator/em_simulator.py).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
simulator="${SIM_SCRIPT:-$repo_root/tests/simulator/em_simulator.py}"

usage() {
    echo "usage: $0 start|stop|status STATEDIR [extra simulator args]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
action="$1"
state_dir="$2"
shift 2

if [ -z "${PYTHON:-}" ]; then
    if [ -x "$repo_root/.venv/bin/python" ]; then
        PYTHON="$repo_root/.venv/bin/python"
    else
        PYTHON=python3
    fi
fi

# Print the pids recorded for this state dir that still belong to a running simulator.
live_pids() {
    local pid_file pid
    for pid_file in "$state_dir/simulator.pid" "$state_dir/launcher.pid"; do
        [ -s "$pid_file" ] || continue
        pid="$(tr -dc '0-9' <"$pid_file")"
        [ -n "$pid" ] || continue
        # A recycled pid must not be signalled: check it still runs the simulator.
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'em_simulator'; then
            echo "$pid"
        fi
    done | sort -u
}

find_ca_file() {
    local candidate
    if [ -n "${SIM_CA_FILE:-}" ]; then
        echo "$SIM_CA_FILE"
        return 0
    fi
    for candidate in ca.pem ca.crt ca-cert.pem ca_cert.pem cacert.pem; do
        if [ -s "$state_dir/certs/$candidate" ]; then
            echo "$state_dir/certs/$candidate"
            return 0
        fi
    done
    return 1
}

# Exit 0 once https://127.0.0.1:PORT/api/ gives any HTTP answer over verified TLS.
api_answers() {
    "$PYTHON" - "$1" "$2" <<'PY'
import ssl
import sys
import urllib.error
import urllib.request

url, ca_file = sys.argv[1:3]
context = ssl.create_default_context(cafile=ca_file)
try:
    with urllib.request.urlopen(url, context=context, timeout=2):
        pass
except urllib.error.HTTPError:
    pass
except (OSError, ssl.SSLError) as error:
    print(error, file=sys.stderr)
    sys.exit(1)
PY
}

show_log_tail() {
    local log
    for log in "$state_dir/stdout.log" "$state_dir/simulator.log"; do
        if [ -s "$log" ]; then
            echo "--- last lines of $log" >&2
            tail -n 30 "$log" >&2
        fi
    done
}

stop() {
    local pids pid waited
    pids="$(live_pids)"
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086  # one pid per word
        kill -TERM $pids 2>/dev/null || true
        for waited in $(seq 1 50); do
            pids="$(live_pids)"
            [ -n "$pids" ] || break
            sleep 0.2
        done
        if [ -n "$pids" ]; then
            echo "simulator did not stop after SIGTERM (waited ${waited}x0.2s); killing $pids" >&2
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
    fi
    rm -f "$state_dir/simulator.pid" "$state_dir/launcher.pid" "$state_dir/port" "$state_dir/env"
}

start() {
    local deadline port ca_file launcher_pid last_error
    if [ ! -f "$simulator" ]; then
        echo "simulator not found: $simulator" >&2
        exit 1
    fi
    stop
    mkdir -p "$state_dir/certs"
    state_dir="$(cd "$state_dir" && pwd)"
    rm -f "$state_dir/stdout.log" "$state_dir/simulator.log"

    "$PYTHON" "$simulator" \
        --bind 127.0.0.1 --port 0 \
        --port-file "$state_dir/port" --pid-file "$state_dir/simulator.pid" \
        --tls --cert-dir "$state_dir/certs" \
        --seed 42 --vms 40 --days 30 --profile realistic \
        --log-file "$state_dir/simulator.log" \
        "$@" </dev/null >"$state_dir/stdout.log" 2>&1 &
    launcher_pid=$!
    echo "$launcher_pid" >"$state_dir/launcher.pid"

    deadline=$((SECONDS + ${SIM_START_TIMEOUT:-30}))
    last_error=""
    while :; do
        if ! kill -0 "$launcher_pid" 2>/dev/null; then
            echo "simulator exited during start-up" >&2
            show_log_tail
            stop
            exit 1
        fi
        port="$(tr -dc "0-9" 2>/dev/null <"$state_dir/port" || true)"
        if [ -n "$port" ] && ca_file="$(find_ca_file)"; then
            if last_error="$(api_answers "https://127.0.0.1:$port/api/" "$ca_file" 2>&1)"; then
                break
            fi
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "simulator did not answer GET /api/ within ${SIM_START_TIMEOUT:-30}s${last_error:+: $last_error}" >&2
            [ -n "${port:-}" ] || echo "(no port in $state_dir/port)" >&2
            [ -n "${ca_file:-}" ] || echo "(no CA file in $state_dir/certs; set SIM_CA_FILE)" >&2
            show_log_tail
            stop
            exit 1
        fi
        sleep 0.2
    done

    ca_file="$(cd "$(dirname "$ca_file")" && pwd)/$(basename "$ca_file")"
    cat >"$state_dir/env" <<ENV
EM_SIM_URL=https://127.0.0.1:$port
EM_SIM_PORT=$port
EM_SIM_CA_PATH=$ca_file
ENV
    echo "EM simulator up at https://127.0.0.1:$port (pid $launcher_pid, CA $ca_file, state $state_dir)"
}

status() {
    local pids
    pids="$(live_pids)"
    if [ -n "$pids" ] && [ -s "$state_dir/env" ]; then
        # shellcheck disable=SC1091
        . "$state_dir/env"
        echo "running: pid $(echo "$pids" | tr '\n' ' ')url $EM_SIM_URL"
        return 0
    fi
    if [ -n "$pids" ]; then
        echo "starting: pid $(echo "$pids" | tr '\n' ' ')"
        return 0
    fi
    echo "stopped"
    return 3
}

case "$action" in
    start) start "$@" ;;
    stop) stop ;;
    status) status ;;
    *) usage ;;
esac
