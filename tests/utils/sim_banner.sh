#!/usr/bin/env bash
# `make sim`: print how to reach the simulator that with_simulator.sh started, then wait for Ctrl-C.
# with_simulator.sh stops the simulator when this script ends, however it ends.
set -euo pipefail

collections_path="${1:?usage: sim_banner.sh COLLECTIONS_PATH}"

cat <<INFO

Veeam Backup Enterprise Manager simulator (test data, not a real EM)
  URL:       $EM_SIM_URL   (EM REST API port $EM_SIM_PORT)
  CA file:   $EM_SIM_CA_PATH
  user name: $VEEAM_EM_USERNAME
  password:  $VEEAM_EM_PASSWORD
  control:   $EM_SIM_CONTROL_URL   (simulator only: reset data, inject faults)

In another shell, to run your own playbooks against it with this checkout's collection:

  export ANSIBLE_COLLECTIONS_PATH='$collections_path'
  export VEEAM_EM_HOST='$EM_SIM_URL' VEEAM_EM_CA_PATH='$EM_SIM_CA_PATH'
  export VEEAM_EM_USERNAME='$VEEAM_EM_USERNAME' VEEAM_EM_PASSWORD='$VEEAM_EM_PASSWORD'
  ansible-playbook veeam.enterprise_manager.cdp_audit -e cdp_compliance_window_start=-7d

(or, in an inventory: veeam_em_host, veeam_em_ca_path, veeam_em_username, veeam_em_password).
Press Ctrl-C to stop the simulator.
INFO

# In the foreground: Ctrl-C reaches the whole process group, ends this wait, and with_simulator.sh stops the simulator.
exec sleep infinity
