# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put get_pip_standin.py where ansible-test looks for its cached pip bootstrap script.

Run with the interpreter that has ansible-core installed. The pip version that
ansible-test asks for is read from its own source, so an ansible-core upgrade that
changes it still finds a stand-in. An existing cached script is left alone.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys

STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'get_pip_standin.py')
CACHE_TEMPLATE = '~/.ansible/test/cache/get_pip_{}.py'


def ansible_test_source(relative_path):
    """Return the text of a file inside the installed ansible_test package."""
    spec = importlib.util.find_spec('ansible_test')
    if spec is None or not spec.submodule_search_locations:
        sys.exit('ansible-test is not installed for %s' % sys.executable)
    with open(os.path.join(spec.submodule_search_locations[0], relative_path), encoding='utf-8') as source:
        return source.read()


def requested_pip_versions():
    """Return every pip version ansible-test may bootstrap into its virtual environments."""
    requirements_source = ansible_test_source(os.path.join('_internal', 'python_requirements.py'))
    versions = sorted(set(re.findall(r"""\bpip\s*=\s*['"]([0-9][0-9.]*)['"]""", requirements_source)))

    setup_source = ansible_test_source(os.path.join('_util', 'target', 'setup', 'requirements.py'))
    if 'get_pip_%s.py' not in setup_source:
        sys.exit('ansible-test no longer caches its pip bootstrap script as get_pip_<version>.py; update %s' % __file__)
    if not versions:
        sys.exit('could not find the pip version ansible-test bootstraps; update %s' % __file__)
    return versions


def main():
    """Install the stand-in for each pip version that has no cached bootstrap script yet."""
    for version in requested_pip_versions():
        cache_path = os.path.expanduser(CACHE_TEMPLATE.format(version.replace('.', '_')))
        if os.path.exists(cache_path):
            continue
        os.makedirs(os.path.dirname(cache_path), exist_ok=True)
        shutil.copyfile(STANDIN, cache_path)
        print('installed pip %s bootstrap stand-in: %s' % (version, cache_path))


if __name__ == '__main__':
    main()
