#!/usr/bin/env bash
# The cdp_vms inventory plugin through ansible-inventory (--list, --graph), against the simulator with one VM name
# under two backup servers: hosts, variables and groups equal the audit's, constructed options, the cache,
# error messages, and no password at -vvvv. check_inventory.py drives it and restores the data set afterwards.
set -eux

config="$(cd ../.. && pwd)/integration_config.yml"
[ -f "$config" ] || { echo "missing $config: run through make integration" >&2; exit 1; }
work="${OUTPUT_DIR:?}/inventory_cdp_vms"
rm -rf "$work"
mkdir -p "$work"

"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" check_inventory.py "$config" "$work" "$@"
