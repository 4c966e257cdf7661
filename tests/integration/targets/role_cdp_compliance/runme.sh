#!/usr/bin/env bash
# The cdp_compliance role and the cdp_audit playbook against simulator scenarios whose expected
# outcome comes from the simulator's /_sim/truth. The simulator's address is in integration_config.yml,
# which ansible-test copies to tests/integration/ (two levels up).
set -eux

config="$(cd ../.. && pwd)/integration_config.yml"
[ -f "$config" ] || { echo "missing $config: run through make integration" >&2; exit 1; }
set -- -e "@$config" "$@"

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
work="${OUTPUT_DIR:?}/role_cdp_compliance"
mkdir -p "$work"

# Leave the simulator's data as it was found, however the tests end.
ansible-playbook sim_data.yml -e sim_action=save -e "sim_state_file=$work/sim-data.json" "$@"
trap 'ansible-playbook sim_data.yml -e sim_action=restore -e "sim_state_file=$work/sim-data.json" "$@"' EXIT

# Single EM: healthy, realistic, waivers, expected VMs, fail_on_violation.
ansible-playbook -i inventory.yml scenarios.yml -e "report_root=$work" "$@"

# Two EMs, the second at a closed port: per-EM and combined reports, set_stats, the unreachable host fails.
closed_port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
set +e
ANSIBLE_SHOW_CUSTOM_STATS=true ANSIBLE_STDOUT_CALLBACK=ansible.builtin.default \
    ansible-playbook -i inventory_two_ems.yml veeam.enterprise_manager.cdp_audit \
    -e "closed_port=$closed_port" -e "cdp_compliance_report_dir=$work/two-ems" "$@" -e @two_ems_vars.yml \
    >"$work/two-ems.log" 2>&1
rc=$?
set -e
cat "$work/two-ems.log"
# Only the unreachable EM fails the run (cdp_compliance_fail_on_incomplete); the reachable one is reported in full.
[ "$rc" -eq 2 ]
grep -E '^em_down +: .*failed=1' "$work/two-ems.log"
grep -E '^em_up +: .*failed=0' "$work/two-ems.log"
"$python" check_two_ems.py "$work/two-ems.log" "$work/two-ems"

# The playbook without EM hosts in the inventory audits localhost with the VEEAM_EM_* environment.
ansible-playbook sim_data.yml -e sim_action=env -e "sim_state_file=$work/env.sh" "$@"
# shellcheck disable=SC1091
(. "$work/env.sh" && ANSIBLE_SHOW_CUSTOM_STATS=true ansible-playbook veeam.enterprise_manager.cdp_audit \
    -e "cdp_compliance_report_dir=$work/fallback" -e cdp_compliance_report_basename=fallback -e cdp_compliance_fail_on_violation=false "$@" >"$work/fallback.log" 2>&1) \
    || { cat "$work/fallback.log"; exit 1; }
cat "$work/fallback.log"
grep -E '^localhost +: .*failed=0' "$work/fallback.log"
"$python" check_reports.py "$work/fallback/fallback"
