"""F1 end to end: the role's reports of the control_chars answers hold no raw control byte, and the JUnit parses.

Usage: check_control_chars.py REPORT_DIR. Exits 1 naming each report that fails.
"""

import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

# C0 except tab and line breaks, DEL, and C1 as code points (the reports are UTF-8 text).
RAW_CONTROL = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]')


def main(report_dir):
    problems = []
    found = {ext: sorted(glob.glob(os.path.join(report_dir, '*.' + ext))) for ext in ('html', 'md', 'xml', 'json')}
    for ext, paths in found.items():
        if not paths:
            problems.append('no .%s report in %s' % (ext, report_dir))
    for path in found['html'] + found['md']:
        with open(path, 'rb') as handle:
            data = handle.read()
        raw = sorted(set('0x%02x' % ord(char) for char in RAW_CONTROL.findall(data.decode('utf-8'))))
        if raw or b'\x00' in data or b'\x1b' in data:
            problems.append('%s holds raw control characters %s' % (path, ', '.join(raw)))
        # The hostile names did reach the report, neutralised: ESC shown as its control picture.
        if '\u241b'.encode('utf-8') not in data:
            problems.append('%s does not show the neutralised ESC (U+241B): did the hostile data reach it?' % path)
    for path in found['xml']:
        try:
            ET.parse(path)
        except ET.ParseError as exc:
            problems.append('%s is not well-formed XML: %s' % (path, exc))
    for path in found['json']:
        with open(path, encoding='utf-8') as handle:
            if '\\u001b[31m' not in handle.read():
                problems.append('%s lacks the escaped ESC[31m of the hostile names' % path)
    for problem in problems:
        print(problem, file=sys.stderr)
    print('control characters: %d HTML, %d Markdown, %d JUnit reports checked' % (
        len(found['html']), len(found['md']), len(found['xml'])))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
