#!/usr/bin/env bash
# Connection options of the lookups from VEEAM_EM_* environment variables, veeam_em_* variables and
# keywords. Lookups cannot see a task's `environment`, so the variables are exported here, before
# ansible-playbook starts.
set -eu

config=../../integration_config.yml
env_file="${OUTPUT_DIR}/veeam_em.env"

# Turn integration_config.yml into VEEAM_EM_* assignments (shell-quoted).
ansible-playbook -i "${INVENTORY_PATH}" -e "@${config}" -e "env_file=${env_file}" write_env.yml "$@"
# shellcheck disable=SC1090
. "${env_file}"
rm -f "${env_file}"

ansible-playbook -i "${INVENTORY_PATH}" -e "@${config}" precedence.yml "$@"

# With a host at the environment level that cannot be valid, the lookups must use the levels above it.
VEEAM_EM_HOST="env level" ansible-playbook -i "${INVENTORY_PATH}" -e "@${config}" -e env_host_is_bad=true precedence.yml "$@"
