#!/usr/bin/env bash
# Run a command while a TLS EM simulator is up; the simulator is stopped however the command ends.
#
# Usage: with_simulator.sh STATEDIR [extra simulator args] -- COMMAND [ARGS...]
#
# The command sees the connection as the collection's VEEAM_EM_* variables
# (host, port, username, password, CA path) plus EM_SIM_URL, EM_SIM_PORT,
# EM_SIM_CA_PATH and EM_SIM_CONTROL_URL (the simulator's /_sim/ control API).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ $# -lt 3 ]; then
    echo "usage: $0 STATEDIR [extra simulator args] -- COMMAND [ARGS...]" >&2
    exit 2
fi
state_dir="$1"
shift
simulator_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    simulator_args+=("$1")
    shift
done
if [ $# -lt 2 ]; then
    echo "usage: $0 STATEDIR [extra simulator args] -- COMMAND [ARGS...]" >&2
    exit 2
fi
shift

trap '"$here/simulator.sh" stop "$state_dir" || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/simulator.sh" start "$state_dir" "${simulator_args[@]}"
# shellcheck disable=SC1091
. "$state_dir/env"

export EM_SIM_URL EM_SIM_PORT EM_SIM_CA_PATH
export EM_SIM_CONTROL_URL="$EM_SIM_URL/_sim"
export VEEAM_EM_HOST="$EM_SIM_URL"
export VEEAM_EM_PORT="$EM_SIM_PORT"
export VEEAM_EM_USERNAME="${SIM_USERNAME:-EMLAB\\auditor}"
export VEEAM_EM_PASSWORD="${SIM_PASSWORD:-S3cret!pass}"
export VEEAM_EM_CA_PATH="$EM_SIM_CA_PATH"
export VEEAM_EM_VALIDATE_CERTS=true

"$@"
