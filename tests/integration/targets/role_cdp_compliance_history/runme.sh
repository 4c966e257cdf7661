#!/usr/bin/env bash
# The cdp_compliance role with an audit history store (SQLite): two audits of changed data give drift and trends
# in the written reports and drift counts in set_stats; a broken store fails the run after the reports are written.
set -eux

config="$(cd ../.. && pwd)/integration_config.yml"
[ -f "$config" ] || { echo "missing $config: run through make integration" >&2; exit 1; }
set -- -e "@$config" "$@"

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
work="${OUTPUT_DIR:?}/role_cdp_compliance_history"
rm -rf "$work"
mkdir -p "$work"

# Leave the simulator's data as it was found, however the tests end.
ansible-playbook ../role_cdp_compliance/sim_data.yml -e sim_action=save -e "sim_state_file=$work/sim-data.json" "$@"
trap 'ansible-playbook ../role_cdp_compliance/sim_data.yml -e sim_action=restore -e "sim_state_file=$work/sim-data.json" "$@"' EXIT

ANSIBLE_SHOW_CUSTOM_STATS=true ANSIBLE_STDOUT_CALLBACK=ansible.builtin.default ansible-playbook -i inventory.yml history.yml -e "work=$work" "$@" >"$work/history.log" 2>&1 \
    || { cat "$work/history.log"; exit 1; }
cat "$work/history.log"
# Drift recomputed from the two JSON files, their hashes against the store, set_stats' drift counts (for AWX notifications).
"$python" check_history.py "$work/history.db" "$work/first/audit.json" "$work/second/audit.json" "$work/history.log"
# The human formats show them too.
grep -q "Changes since the previous audit" "$work/second/audit.html"
grep -q "Changes since the previous audit" "$work/second/audit.md"
grep -q "chart-trend" "$work/second/audit.html"

# A store in a directory that does not exist: the run fails naming the store, after writing the report files.
set +e
ansible-playbook -i inventory.yml history.yml -e "work=$work" -e history_case=broken "$@" >"$work/broken.log" 2>&1
rc=$?
set -e
cat "$work/broken.log"
[ "$rc" -eq 2 ]
grep -F "History store $work/missing/history.db: the directory $work/missing does not exist" "$work/broken.log"
"$python" -c 'import json, sys; report = json.load(open(sys.argv[1])); assert report["kind"] == "cdp_compliance_report" and "drift" not in report' \
    "$work/broken/audit.json"
