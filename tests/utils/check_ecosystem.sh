#!/usr/bin/env bash
# Check the collection the way Galaxy/Automation Hub, the docsite and ansible-builder will see it.
#
# Usage: check_ecosystem.sh [COLLECTION_DIR]
#
# COLLECTION_DIR (default: the repository root) holds galaxy.yml; `make ecosystem` passes the
# build tree, which holds only what git would commit. Steps, all in a temporary directory that is
# removed at the end:
#   1. ansible-galaxy collection build                      -> the release tarball
#   2. galaxy-importer on the tarball (ansible-doc and ansible-lint, no ansible-test,
#      so no container runtime is needed)                   -> no ERROR or WARNING lines allowed
#   3. antsibull-docs lint-collection-docs --plugin-docs    -> on the tarball's content, installed
#                                                              under ansible_collections/veeam/enterprise_manager
#   4. ansible-builder introspect --sanitize                -> must list the collection's Python requirements
# The tools are taken from PATH; `make ecosystem` puts the project's .venv first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
collection_dir="$(cd "${1:-$here/../..}" && pwd)"

for tool in ansible-galaxy antsibull-docs ansible-builder python; do
    command -v "$tool" >/dev/null || { echo "check_ecosystem: $tool not found on PATH (run make venv)" >&2; exit 2; }
done
python -c 'import galaxy_importer' 2>/dev/null || { echo "check_ecosystem: galaxy-importer is not installed for $(command -v python)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/veeam-em-ecosystem.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "== ansible-galaxy collection build ($collection_dir)"
ansible-galaxy collection build --output-path "$work/dist" "$collection_dir" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
tarballs=("$work"/dist/*.tar.gz)
tarball="${tarballs[0]}"
[ -f "$tarball" ] || { echo "check_ecosystem: no tarball was built" >&2; exit 1; }
echo "   $(basename "$tarball")"

echo "== galaxy-importer"
mkdir -p "$work/importer-tmp" "$work/ansible-tmp"
cat >"$work/galaxy-importer.cfg" <<EOF
[galaxy-importer]
LOG_LEVEL_MAIN = INFO
RUN_ANSIBLE_TEST = False
ANSIBLE_TEST_LOCAL_IMAGE = False
LOCAL_IMAGE_DOCKER = False
RUN_ANSIBLE_DOC = True
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
RUN_FLAKE8 = False
CHECK_CHANGELOG = True
CHECK_REQUIRED_TAGS = False
TMP_ROOT_DIR = $work/importer-tmp
ANSIBLE_LOCAL_TMP = $work/ansible-tmp
EOF
importer_status=0
# It writes importer_result.json into the current directory: run it inside the temporary one.
(cd "$work" && GALAXY_IMPORTER_CONFIG="$work/galaxy-importer.cfg" python -m galaxy_importer.main "$tarball") >"$work/importer.log" 2>&1 || importer_status=$?
cat "$work/importer.log"
if [ "$importer_status" -ne 0 ]; then
    echo "check_ecosystem: galaxy-importer failed (exit $importer_status)" >&2
    exit 1
fi
# The importer reports problems as log lines; ansible-lint's findings come through as WARNING lines.
if grep -E '^(ERROR|WARNING|CRITICAL)' "$work/importer.log" >/dev/null; then
    echo "check_ecosystem: galaxy-importer reported errors or warnings (above)" >&2
    exit 1
fi

echo "== antsibull-docs lint-collection-docs --plugin-docs"
installed="$work/collections/ansible_collections/veeam/enterprise_manager"
mkdir -p "$installed"
tar -xzf "$tarball" -C "$installed"
(cd "$installed" && ANSIBLE_COLLECTIONS_PATH="$work/collections" antsibull-docs lint-collection-docs --plugin-docs .)

echo "== ansible-builder introspect --sanitize"
ansible-builder introspect --sanitize "$work/collections" | tee "$work/introspect.txt"
for requirement in requests jmespath defusedxml; do
    if ! grep -q "^- '$requirement" "$work/introspect.txt"; then
        echo "check_ecosystem: ansible-builder did not find the Python requirement $requirement" >&2
        exit 1
    fi
done

echo "check_ecosystem: all checks passed"
