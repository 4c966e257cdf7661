# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The unknown_variables filter (documentation: unknown_variables.yml next to this file).

The cdp_compliance role uses it to refuse misspelled cdp_compliance_* variables, which Ansible would
otherwise ignore without a word (a misspelled expected VM list silently removes the scope check).
"""

from __future__ import annotations

import difflib

from ansible.errors import AnsibleFilterError


def unknown_variables(names, known, prefix=""):
    """[{name, nearest, message}] for each name with ``prefix`` that ``known`` lacks, sorted by name.

    ``nearest`` is the most similar known name (difflib), or None when none is close.
    """
    if isinstance(names, (str, bytes)) or isinstance(known, (str, bytes)):
        raise AnsibleFilterError("unknown_variables expects a list of variable names and a list of known names")
    try:
        known = [str(name) for name in known]
        candidates = sorted({str(name) for name in names if str(name).startswith(prefix)})
    except TypeError:
        raise AnsibleFilterError("unknown_variables expects a list of variable names and a list of known names") from None
    known_set = set(known)
    # Compared without the prefix, which every candidate shares and which would make any two names look alike.
    by_rest = {item[len(prefix):]: item for item in known if item.startswith(prefix)}
    result = []
    for name in candidates:
        if name in known_set:
            continue
        close = difflib.get_close_matches(name[len(prefix):], list(by_rest), n=1, cutoff=0.6)
        nearest = by_rest[close[0]] if close else None
        result.append({"name": name, "nearest": nearest,
                       "message": "%s (did you mean %s?)" % (name, nearest) if nearest else "%s (no similar variable is known)" % name})
    return result


class FilterModule:
    """Variable-name checks."""

    def filters(self):
        return {"unknown_variables": unknown_variables}
