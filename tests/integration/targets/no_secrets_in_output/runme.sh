#!/usr/bin/env bash
# Run the modules and lookups at -vvvv and prove that neither the password nor any EM session id
# (the X-RestSvcSessionId token or the session GUID it encodes) reaches the output.
set -eu

config=../../integration_config.yml
work="${OUTPUT_DIR}/no_secrets"
mkdir -p "${work}"
log="${work}/vvvv.log"
secrets="${work}/secrets.txt"

playbook() {
    ansible-playbook -i "${INVENTORY_PATH}" -e "@${config}" -e "work_dir=${work}" "$@"
}

# 1. Log on with the session module in a separate, quiet run; the id goes to a file, not to the output.
playbook log_on.yml >/dev/null
shared_session_id="$(cat "${work}/session_id")"

# 2. The verbose run: modules and lookups through the shared session (VEEAM_EM_SESSION_ID) and with
#    their own logons. Logoffs fail on purpose (simulator fault) so that the sessions the tasks opened
#    themselves stay listed and their ids can be collected afterwards.
status=0
VEEAM_EM_SESSION_ID="${shared_session_id}" playbook -vvvv verbose.yml >"${log}" 2>&1 || status=$?
if [ "${status}" -ne 0 ]; then
    tail -n 60 "${log}"
    echo "the verbose run failed (exit ${status})" >&2
    exit 1
fi

# 3. Collect every secret: the password, and token and GUID of every open EM session; then log them off.
playbook collect_secrets.yml -e "shared_session_id=${shared_session_id}" >/dev/null
count="$(grep -c . "${secrets}")"
if [ "${count}" -lt 9 ]; then
    echo "expected the password and at least 4 sessions (token and GUID each), got ${count} secrets" >&2
    exit 1
fi

# 4. The check itself must work: every secret is found in a text that contains it.
while IFS= read -r secret; do
    if ! printf 'before %s after\n' "${secret}" | grep -q -F -e "${secret}"; then
        echo "the grep does not find a secret in a text that contains it" >&2
        exit 1
    fi
done <"${secrets}"

# The verbose output is real: it shows module arguments (the module-process path) and the lookups ran.
for expected in 'plugins/modules/cdp_replica_task_session_info.py' \
        '"session_id": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' \
        'cdp_replica_task_sessions: querying CdpReplicaTaskSession'; do
    if ! grep -q -F -e "${expected}" "${log}"; then
        echo "the -vvvv output lacks '${expected}'" >&2
        exit 1
    fi
done

leaks="$(grep -c -F -f "${secrets}" "${log}" || true)"
rm -f "${secrets}" "${work}/session_id"
if [ "${leaks}" -ne 0 ]; then
    echo "${leaks} line(s) of the -vvvv output contain the password or an EM session id" >&2
    exit 1
fi
echo "no secret in $(wc -l <"${log}") lines of -vvvv output"
rm -f "${log}"
