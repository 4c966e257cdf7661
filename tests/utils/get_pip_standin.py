# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test fetches get-pip.py from a host this project's machines cannot reach, and
runs it inside each new test virtual environment with pip's arguments
(for example ``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``).
This script gets pip from the interpreter's own ``ensurepip`` instead, then lets that
pip install the requested packages from the package index as usual.
"""

from __future__ import annotations

import subprocess
import sys

# Options that only get-pip.py understands; pip install would reject them.
GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel', '--no-pip')


def main():
    """Bootstrap pip with ensurepip, then install what get-pip.py was asked for."""
    arguments = sys.argv[1:]
    pip_arguments = [argument for argument in arguments if argument not in GET_PIP_ONLY_OPTIONS]

    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet'] + pip_arguments)

    # ensurepip brings setuptools along on some Python versions; get-pip.py would not have.
    if '--no-setuptools' in arguments:
        subprocess.check_call([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet', 'setuptools'], stderr=subprocess.DEVNULL)


if __name__ == '__main__':
    main()
