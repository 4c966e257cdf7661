#!/usr/bin/env bash
# Install Debian packages that are missing, and only those.
#
# Usage: ensure_debian_packages.sh PACKAGE[:COMMAND] ...
#
# A package given with a command counts as present when the command is on PATH;
# otherwise dpkg decides. `apt-get update` runs once, only when something is missing.
set -euo pipefail

missing=()
for spec in "$@"; do
    package="${spec%%:*}"
    command_name=""
    [ "$spec" = "$package" ] || command_name="${spec#*:}"
    if [ -n "$command_name" ]; then
        command -v "$command_name" >/dev/null 2>&1 && continue
    elif dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        continue
    fi
    missing+=("$package")
done

[ ${#missing[@]} -gt 0 ] || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing ${missing[*]} and no apt-get to install them with; install them by hand" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "missing ${missing[*]}; run as root or install them by hand" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
