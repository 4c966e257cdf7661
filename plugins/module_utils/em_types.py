# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of EM query types: what a type name implies for a query of it.

Every QuerySpec of a known type comes from query_spec(); a type not in the table is still queried,
with the plural EM usually uses, no snapshot pin and the generic normaliser.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Tuple

from .paging import QuerySpec
from .records import normalise_generic, normalise_task_session


@dataclasses.dataclass(frozen=True)
class EmType:
    name: str
    # The JSON list key of the type's items.
    plural: str
    # The creation-time field paging pins a snapshot on; None when the type has none.
    pin_field: Optional[str] = None
    # Fields EM documents as filterable and sortable; empty when not known.
    sortable: Tuple[str, ...] = ()
    normalise: Callable = normalise_generic


CDP_TASK_SESSION = EmType(
    "CdpReplicaTaskSession", "CdpReplicaTaskSessions", "CreationTimeUTC",
    # Result is not among them.
    ("Id", "Name", "PolicySessionUid", "PolicySessionName", "BackupServerUid", "BackupServerName",
     "CreationTimeUTC", "EndTimeUTC", "State", "Reason", "TotalSize", "VmDisplayName"),
    normalise_task_session,
)
CDP_POLICY_SESSION = EmType("CdpReplicaSession", "CdpReplicaSessions", "CreationTimeUTC")
CDP_POLICY = EmType("CdpPolicy", "CdpPolicies")

EM_TYPES = {em_type.name.lower(): em_type for em_type in (CDP_TASK_SESSION, CDP_POLICY_SESSION, CDP_POLICY)}


def em_type(type_name):
    """The table's entry for a type name in any case, or the usual shape for a type it does not list."""
    known = EM_TYPES.get(type_name.lower())
    return known if known is not None else EmType(type_name, type_name + "s")


def query_spec(type_name, filter_expression="", **options):
    """A QuerySpec of type_name with its plural, pin field and normaliser; options (QuerySpec fields) override them."""
    entry = em_type(type_name)
    fields = {"plural": entry.plural, "pin_field": entry.pin_field, "normalise": entry.normalise}
    fields.update(options)
    return QuerySpec(type_name, filter_expression, **fields)
