# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open HTML reports in headless Chromium: usage check_html.py CHROMIUM REPORT.html...

Each page is loaded as written, and must log no uncaught JavaScript error. A copy with a test
harness is loaded too: the harness records errors, clicks the VM column header twice, types in
the filter box and ticks "only VMs needing attention", then writes what it saw into an attribute
of the dumped DOM, which this script checks.
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

HARNESS_HEAD = "<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message));});</script>"
HARNESS_TAIL = """<script>(function(){
var out={errors:window.__errors};
try{
var t=document.getElementById('vms'),b=t.tBodies[0],heads=t.tHead.rows[0].cells,col=-1,i;
for(i=0;i<heads.length;i++){if(heads[i].textContent.trim()==='VM'){col=i;}}
function names(){return Array.prototype.map.call(b.rows,function(r){return r.cells[col].textContent.toLowerCase();});}
function sorted(list,dir){for(var k=1;k<list.length;k++){if(dir*(list[k-1]<list[k]?-1:(list[k-1]>list[k]?1:0))>0){return false;}}return true;}
function visible(){return Array.prototype.filter.call(b.rows,function(r){return r.style.display!=='none';}).length;}
out.rows=b.rows.length;
out.problems=Array.prototype.filter.call(b.rows,function(r){return r.getAttribute('data-ok')!=='1';}).length;
heads[col].click();out.ascending=sorted(names(),1);
heads[col].click();out.descending=sorted(names(),-1);
var q=document.getElementById('q'),p=document.getElementById('p');
q.value=b.rows[0].cells[col].textContent;q.dispatchEvent(new Event('input'));out.filtered=visible();
q.value='';q.dispatchEvent(new Event('input'));p.checked=true;p.dispatchEvent(new Event('change'));out.attention=visible();
}catch(e){out.errors.push('harness: '+e);}
document.documentElement.setAttribute('data-harness',JSON.stringify(out));
})();</script>"""


def run_chromium(chromium, page):
    profile = tempfile.mkdtemp(prefix="cdp-chromium-")
    try:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=%s" % profile,
                   "--enable-logging=stderr", "--v=0", "--dump-dom", pathlib.Path(page).resolve().as_uri()]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if completed.returncode != 0:
        raise AssertionError("chromium exited with %d for %s:\n%s" % (completed.returncode, page, completed.stderr[-3000:]))
    return completed.stdout, completed.stderr


def check(chromium, page):
    dom, log = run_chromium(chromium, page)
    assert "Uncaught" not in log, "JavaScript error in %s:\n%s" % (page, log)
    assert 'id="vms"' in dom, "the VM table did not render in %s" % page

    with open(page, encoding="utf-8") as stream:
        text = stream.read()
    assert "<script>alert(1)</script>" not in text, "unescaped EM text in %s" % page
    harnessed = text.replace("<head>", "<head>" + HARNESS_HEAD, 1).replace("</body>", HARNESS_TAIL + "</body>", 1)
    copy = os.path.join(os.path.dirname(page), "harness-" + os.path.basename(page))
    with open(copy, "w", encoding="utf-8") as stream:
        stream.write(harnessed)
    dom, log = run_chromium(chromium, copy)
    assert "Uncaught" not in log, "JavaScript error in %s:\n%s" % (copy, log)
    match = re.search(r'data-harness="([^"]*)"', dom)
    assert match, "the harness did not run in %s (no data-harness attribute in the DOM)" % copy
    seen = json.loads(html.unescape(match.group(1)))
    assert not seen["errors"], "JavaScript errors in %s: %s" % (page, seen["errors"])
    assert seen["rows"] > 0, seen
    assert seen["ascending"] and seen["descending"], "sorting by VM does not work: %s" % seen
    assert 1 <= seen["filtered"] < seen["rows"] or seen["rows"] == 1, "the filter box does not work: %s" % seen
    assert seen["attention"] == seen["problems"], "'only VMs needing attention' does not work: %s" % seen
    print("%s: rendered without JavaScript errors; %d VMs, sorting and filtering work" % (page, seen["rows"]))


def main():
    chromium = sys.argv[1]
    for page in sys.argv[2:]:
        check(chromium, page)


if __name__ == "__main__":
    main()
