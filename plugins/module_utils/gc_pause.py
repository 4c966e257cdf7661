# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pause Python's cyclic garbage collector while a query builds a large result.

A result of task sessions is a big tree of dicts and strings with no reference cycles, and it only
grows while pages arrive. Each automatic collection of the oldest generation walks all of it again:
for 100,000 records that was about a third of the time spent decoding. Reference counting still frees
whatever is dropped meanwhile; collection resumes, and reclaims any cycle made meanwhile, when the block ends.
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def gc_paused():
    """Disable automatic collection for the block; a collector already disabled by the caller stays so."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
