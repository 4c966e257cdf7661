#!/usr/bin/env bash
# The security review's attacks (issue 17) end to end against the simulator's hostile-EM mode:
# 1. cases.yml at -vvvv (module, lookup, role), then no credential anywhere in the output or the reports,
#    and no raw control character in the reports of the control_chars answers;
# 2. real SIGINT / SIGTERM while a query (of a module, an in-process action, the role) is mid-answer, counting logons and logoffs.
set -eu

config="$(cd ../.. && pwd)/integration_config.yml"
[ -f "${config}" ] || { echo "missing ${config}: run through make integration" >&2; exit 1; }
work="${OUTPUT_DIR:?}/hostile_em"
rm -rf "${work}"
mkdir -p "${work}"
log="${work}/vvvv.log"
secrets="${work}/secrets.txt"

status=0
ansible-playbook -i "${INVENTORY_PATH}" -e "@${config}" -e "work_dir=${work}" -vvvv cases.yml >"${log}" 2>&1 || status=$?
grep -E '^(PLAY RECAP|testhost +:)' "${log}" || true
if [ "${status}" -ne 0 ]; then
    grep -n -A12 -E '^fatal:' "${log}" | grep -v -E '^[0-9]+-\s+"(invocation|module_args)' | tail -n 60 || true
    echo "cases.yml failed (exit ${status}); full log: ${log}" >&2
    exit 1
fi
[ "$(grep -c . "${secrets}")" -eq 3 ] || { echo "expected 3 secrets in ${secrets}" >&2; exit 1; }
[ -n "$(ls "${work}/reports")" ] || { echo "the role wrote no report" >&2; exit 1; }
leaks="$(grep -r -c -F -f "${secrets}" "${log}" "${work}/reports" | awk -F: '{n += $NF} END {print n + 0}')"
rm -f "${secrets}"
if [ "${leaks}" -ne 0 ]; then
    echo "${leaks} line(s) of the output or the reports contain the password or the Basic credential" >&2
    exit 1
fi
grep -q -F 'Authorization: Basic ********' "${work}/reports/"*.json || { echo "the reports do not show the masked echo" >&2; exit 1; }
python3 check_control_chars.py "${work}/control_reports"

state() { python3 simctl.py "${config}" state; }

interrupt() {  # $1 run_as (action, module or role), $2 signal, $3 group (kill the process group, as a terminal's Ctrl-C) or main
    local before open logons logoffs queries pid waited
    python3 simctl.py "${config}" faults '{"faults": [{"on": "query", "action": "trickle", "every_ms": 500, "size": 100000, "times": -1}]}'
    read -r open logons logoffs queries <<<"$(state)"
    before="${open} ${logons} ${logoffs} ${queries}"
    # A module ended by SIGTERM (after logging off) never reaches the cleanup of ansible-core's AnsiballZ wrapper, which
    # would leave its payload directory in /tmp: give the run a temporary directory inside this target's output.
    mkdir -p "${work}/tmp"
    TMPDIR="${work}/tmp" setsid ansible-playbook -i "${INVENTORY_PATH}" -e "@${config}" -e "run_as=$1" -e "report_dir=${work}/interrupted-reports" interrupted.yml >"${work}/interrupted-$1-$2-$3.log" 2>&1 &
    pid=$!
    waited=0
    # Wait until the task has logged on and is reading the trickled answer.
    until read -r o l f q <<<"$(state)" && [ "${o}" -gt "${open}" ] && [ "${q}" -gt "${queries}" ]; do
        sleep 0.2
        waited=$((waited + 1))
        [ "${waited}" -lt 300 ] || { kill -KILL -- "-${pid}" 2>/dev/null; echo "$1: the query never started" >&2; exit 1; }
    done
    if [ "$3" = group ]; then kill "-$2" -- "-${pid}"; else kill "-$2" "${pid}"; fi
    wait "${pid}" 2>/dev/null || true
    # The worker logs off after the main process is gone: give it a few seconds.
    waited=0
    until read -r o l f q <<<"$(state)" && [ "${o}" -eq "${open}" ]; do
        sleep 0.2
        waited=$((waited + 1))
        [ "${waited}" -lt 100 ] || break
    done
    python3 simctl.py "${config}" clear
    read -r o l f q <<<"$(state)"
    echo "$1 $2 ($3): open/logons/logoffs/queries before ${before}, after ${o} ${l} ${f} ${q}"
    if [ "${o}" -ne "${open}" ] || [ "$((l - logons))" -ne 1 ] || [ "$((f - logoffs))" -ne 1 ]; then
        echo "$1 interrupted by SIG$2 ($3) left an EM session open" >&2
        exit 1
    fi
}

interrupt action INT group
interrupt action TERM main
interrupt module INT group
interrupt module TERM main
# The role's audit task logs on and off itself: no logoff task that an interrupt could skip.
interrupt role INT group
interrupt role TERM main
echo "hostile_em: passed"
