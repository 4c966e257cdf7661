#!/usr/bin/env bash
# Load: 20 concurrent module runs (ansible-playbook forks) and then 20 concurrent lookups against one
# simulator. Each must return exactly the reference query's records; every logon is logged off.
# Prints wall time, records/s, logons/logoffs and open sessions per phase.
set -eu

config="$(cd ../.. && pwd)/integration_config.yml"
[ -f "${config}" ] || { echo "missing ${config}: run through make integration" >&2; exit 1; }
python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
work="${OUTPUT_DIR:?}/reliability_load"
mkdir -p "${work}"
runs=20

inventory="${work}/inventory.ini"
{
    echo "[load]"
    for index in $(seq -w 1 "${runs}"); do
        echo "em_load_${index}"
    done
    echo "[load:vars]"
    echo "ansible_connection=local"
    echo "ansible_python_interpreter=${python}"
} >"${inventory}"

ansible-playbook -i "${INVENTORY_PATH}" -e "@${config}" -e "work_dir=${work}" reference.yml "$@"
records="$("${python}" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["sessions"]))' "${work}/reference.json")"

for phase in module lookup; do
    "${python}" sim_state.py "${config}" >"${work}/before-${phase}.json"
    started="$(date +%s.%N)"
    ANSIBLE_FORKS="${runs}" ansible-playbook -i "${inventory}" -e "@${config}" -e "work_dir=${work}" -e "phase=${phase}" load.yml "$@" \
        >"${work}/${phase}.log" 2>&1 || { tail -n 60 "${work}/${phase}.log"; exit 1; }
    ended="$(date +%s.%N)"
    "${python}" sim_state.py "${config}" >"${work}/after-${phase}.json"
    passed="$(grep -c -E "^em_load_[0-9]+ +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0" "${work}/${phase}.log" || true)"
    if [ "${passed}" -ne "${runs}" ]; then
        tail -n 30 "${work}/${phase}.log"
        echo "${passed} of ${runs} hosts passed the ${phase} phase" >&2
        exit 1
    fi
    "${python}" figures.py "${phase}" "$("${python}" -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "${started}" "${ended}")" "${runs}" "${records}" \
        "${work}/before-${phase}.json" "${work}/after-${phase}.json" | tee -a "${work}/figures.txt"
done
