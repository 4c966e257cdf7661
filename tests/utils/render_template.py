# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a YAML template whose ${NAME} placeholders come from the environment.

Usage: render_template.py TEMPLATE OUTPUT

Each placeholder stands for a whole YAML scalar: digits are written as an integer,
anything else as a double-quoted string with escapes, so values such as
``EMLAB\\auditor`` survive YAML parsing unchanged. A missing variable is an error.
"""

from __future__ import annotations

import json
import os
import string
import sys


class YamlScalars(dict):
    """Environment view that returns values as YAML scalars."""

    def __missing__(self, name):
        if name not in os.environ:
            raise KeyError(name)
        value = os.environ[name]
        return value if value.isdigit() else json.dumps(value)


def main():
    """Render TEMPLATE into OUTPUT."""
    if len(sys.argv) != 3:
        sys.exit('usage: render_template.py TEMPLATE OUTPUT')
    template_path, output_path = sys.argv[1:]
    with open(template_path, encoding='utf-8') as template_file:
        template = string.Template(template_file.read())
    try:
        rendered = template.substitute(YamlScalars())
    except KeyError as missing:
        sys.exit('%s: environment variable %s is not set' % (template_path, missing))
    with open(output_path, 'w', encoding='utf-8') as output_file:
        output_file.write(rendered)


if __name__ == '__main__':
    main()
