#!/usr/bin/env bash
# The HTML reports render in headless Chromium (driven by Playwright, one browser start) with no console error
# and no network request, their charts are drawn, and their table sorting and filtering work. Screenshots go to
# tests/output/browser/. Skipped (exit 0 with a message) when Chromium is not installed: `make integration`
# installs Debian's chromium package; Playwright comes from requirements-dev.txt (no `playwright install`).
set -eux

chromium="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium" ]; then
    set +x
    echo "SKIPPED cdp_compliance_report_browser: no chromium on PATH (apt-get install chromium); the HTML report was not checked in a browser."
    exit 0
fi

config="$(cd ../.. && pwd)/integration_config.yml"
[ -f "$config" ] || { echo "missing $config: run through make integration" >&2; exit 1; }
work="${OUTPUT_DIR:?}/cdp_compliance_report_browser"
mkdir -p "$work"

ansible-playbook write_reports.yml -e "@$config" -e "report_dir=$work" "$@"
# ansible-test runs a copy of the target; tests/output/ (beside its junit/ directory) is kept.
screenshots="${JUNIT_OUTPUT_DIR:+$(dirname "$JUNIT_OUTPUT_DIR")/browser}"
screenshots="${screenshots:-$work/screenshots}"
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" check_html.py "$chromium" "$screenshots" "$work/single.html" "$work/combined.html"
