# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection version, recorded in audit evidence. A unit test keeps it equal to galaxy.yml."""

from __future__ import annotations

COLLECTION_VERSION = "0.1.0"
