# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open HTML reports in headless Chromium through Playwright: usage check_html.py CHROMIUM SCREENSHOT_DIR REPORT.html...

One browser start for all pages (Debian's chromium, never a browser Playwright downloads), a fresh profile, and
for each page: no console error and no uncaught exception (a script or style the Content-Security-Policy blocks is a
console error), no request but the page itself, the charts drawn with their titles, sorting by VM works both ways,
the filter box and "only VMs needing attention" filter the rows; a full-page screenshot (print media) is written.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile

from playwright.sync_api import sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--disable-sync"]
EXPECTED_CHARTS = {"chart-policies", "chart-gaps"}

VM_STATE = """() => {
  const table = document.getElementById('vms'), body = table.tBodies[0];
  const col = Array.from(table.tHead.rows[0].cells).findIndex(th => th.textContent.trim() === 'VM');
  const rows = Array.from(body.rows);
  return {col: col, names: rows.map(r => r.cells[col].textContent.toLowerCase()),
          visible: rows.filter(r => r.style.display !== 'none').length,
          problems: rows.filter(r => r.getAttribute('data-ok') !== '1').length,
          firstName: rows.length ? rows[0].cells[col].textContent : ''};
}"""


def _is_sorted(names, direction):
    return all((a <= b) if direction > 0 else (a >= b) for a, b in zip(names, names[1:]))


def check(context, page_path, screenshot_dir):
    page = context.new_page()
    problems, requests = [], []
    url = pathlib.Path(page_path).resolve().as_uri()
    page.on("console", lambda message: problems.append("console %s: %s" % (message.type, message.text)) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append("uncaught: %s" % error))
    page.on("request", lambda request: requests.append(request.url) if request.url != url else None)
    page.goto(url, wait_until="load")
    assert not problems, "console errors while loading %s: %s" % (page_path, problems)

    charts = page.eval_on_selector_all("svg.chart", "nodes => nodes.map(n => [n.id, n.querySelector('title').textContent, "
                                       "n.querySelector('desc').textContent, n.getAttribute('role')])")
    assert EXPECTED_CHARTS <= {chart[0] for chart in charts}, "charts missing in %s: %s" % (page_path, charts)
    assert all(title and desc and role == "img" for _id, title, desc, role in charts), charts

    state = page.evaluate(VM_STATE)
    assert state["col"] >= 0 and state["names"], "no VM rows in %s" % page_path
    header = page.locator("#vms thead th", has_text="VM").filter(has_not_text="VMs").first
    header.click()
    assert _is_sorted(page.evaluate(VM_STATE)["names"], 1), "sorting by VM ascending failed in %s" % page_path
    header.click()
    assert _is_sorted(page.evaluate(VM_STATE)["names"], -1), "sorting by VM descending failed in %s" % page_path

    rows = len(state["names"])
    page.fill("#q", page.evaluate(VM_STATE)["firstName"])
    filtered = page.evaluate(VM_STATE)["visible"]
    assert 1 <= filtered < rows or rows == 1, "the filter box does not filter in %s (%d of %d)" % (page_path, filtered, rows)
    page.fill("#q", "")
    page.check("#p")
    attention = page.evaluate(VM_STATE)
    assert attention["visible"] == attention["problems"], "'only VMs needing attention' does not work in %s: %s" % (page_path, attention)
    page.uncheck("#p")

    # As printed: the print style sheet applies (no sticky headers, no tools), so the whole page reads as one image.
    page.emulate_media(media="print")
    shot = os.path.join(screenshot_dir, os.path.basename(page_path) + ".png")
    page.screenshot(path=shot, full_page=True)
    assert not problems, "console errors in %s: %s" % (page_path, problems)
    assert not requests, "%s made network requests: %s" % (page_path, requests)
    page.close()
    print("%s: no console error, no request, %d charts, %d VMs sorted and filtered; screenshot %s" % (page_path, len(charts), rows, shot))


def main():
    chromium, screenshot_dir, pages = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(screenshot_dir, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="cdp-chromium-")
    try:
        with sync_playwright() as playwright:
            # A persistent context is the only way to give Chromium its own fresh user data directory.
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium, headless=True, args=FLAGS, offline=True)
            try:
                for page in pages:
                    check(context, page, screenshot_dir)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
