# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the simulator's /_sim/state as one JSON line, reading its address from integration_config.yml."""

from __future__ import annotations

import json
import ssl
import sys
import urllib.request

import yaml


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    context = ssl.create_default_context(cafile=config["em_ca_path"])
    with urllib.request.urlopen(config["em_control_url"] + "/state", context=context, timeout=30) as response:
        state = json.load(response)
    print(json.dumps(state, sort_keys=True))


if __name__ == "__main__":
    main()
