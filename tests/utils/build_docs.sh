#!/usr/bin/env bash
# Build the collection's HTML docsite with antsibull-docs and Sphinx.
#
# Usage: build_docs.sh [COLLECTION_DIR [OUTPUT_DIR]]
#
# COLLECTION_DIR (default: the repository root) is documented as veeam.enterprise_manager;
# OUTPUT_DIR (default: COLLECTION_DIR/docs/build) receives the HTML site (open index.html).
# Needs antsibull-docs, sphinx and sphinx-ansible-theme on PATH (`make docs` puts the project's
# .venv first) and no network: intersphinx is turned off and Sphinx runs in lenient mode, so the
# references to ansible-core's docs (common return values, set_stats, ...) become plain text and
# "undefined label" warnings instead of links.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
collection_dir="$(cd "${1:-$here/../..}" && pwd)"
output_dir="${2:-$collection_dir/docs/build}"

for tool in antsibull-docs sphinx-build; do
    command -v "$tool" >/dev/null || { echo "build_docs: $tool not found on PATH (run make venv)" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/veeam-em-docs.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# antsibull-docs finds the collection through ANSIBLE_COLLECTIONS_PATH.
mkdir -p "$work/collections/ansible_collections/veeam"
ln -s "$collection_dir" "$work/collections/ansible_collections/veeam/enterprise_manager"
export ANSIBLE_COLLECTIONS_PATH="$work/collections"

# sphinx-init wants an existing destination that only its owner can write to.
mkdir -m 0755 "$work/site"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --lenient \
    --title "Veeam Backup Enterprise Manager Collection" --project veeam.enterprise_manager \
    --dest-dir "$work/site" veeam.enterprise_manager
# No network: drop the intersphinx inventories that conf.py would download.
printf '\nintersphinx_mapping = {}\n' >>"$work/site/conf.py"

(cd "$work/site" && ./build.sh)

rm -rf "$output_dir"
mkdir -p "$(dirname "$output_dir")"
cp -r "$work/site/build/html" "$output_dir"
echo "build_docs: HTML docsite in $output_dir/index.html"
