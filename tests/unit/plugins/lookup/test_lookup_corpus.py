# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records lookup end to end against a replay of conformance-corpus bodies (see test_corpus.py)."""

from __future__ import annotations

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.decode import decode_query_page
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.records import normalise_generic
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import PASSWORD, USER, fixture_bytes
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_corpus import JSON, body, replay
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_decode import seed_as_em_sends_it
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.test_paging_bounds import script


@pytest.mark.parametrize("name, content_type", [("query_job_references_v11.json", JSON), ("query_cdpreplicasession_entities_camel.json", JSON)])
def test_records_lookup_against_a_replay(em_sim, name, content_type):
    replay(em_sim, name, content_type)
    loader = DataLoader()
    lookup = lookup_loader.get("veeam.enterprise_manager.records", loader=loader, templar=Templar(loader=loader, variables={}))
    # The replay ignores the requested order; the documented CdpReplicaSession answer is newest first, so ask for that.
    order = {} if "job" in name else {"sort_by": "CreationTimeUTC", "sort_order": "desc"}
    records = lookup.run([], {}, host="127.0.0.1", port=em_sim.port, username=USER, password=PASSWORD, ca_path=em_sim.ca_file,
                         type="Job" if "job" in name else "CdpReplicaSession", format="references" if "references" in name else "entities", **order)
    assert [record["uid"] for record in records] == [normalise_generic(raw)["uid"] for raw in decode_query_page(body(name), content_type).items]
    assert em_sim.state()["open_sessions"] == 0


@pytest.mark.parametrize("name, content_type", [("seed_query_result.xml", "application/xml"), ("seed_query_result_pascal.json", JSON),
                                                ("seed_query_result_camel.json", JSON)])
def test_cdp_lookup_against_a_replay_of_the_documented_task_sessions(em_sim, name, content_type):
    text = seed_as_em_sends_it() if name.endswith(".xml") else fixture_bytes(name)
    script(em_sim, lambda page, size, params: (text.decode("utf-8"), content_type))
    loader = DataLoader()
    lookup = lookup_loader.get("veeam.enterprise_manager.cdp_replica_task_sessions", loader=loader, templar=Templar(loader=loader, variables={}))
    records = lookup.run([], {}, host="127.0.0.1", port=em_sim.port, username=USER, password=PASSWORD, ca_path=em_sim.ca_file,
                         response_format="xml" if name.endswith(".xml") else "json")
    # The replay serves the documented body whatever the sort asked (EM would sort it newest first): compare the set.
    assert sorted(record["creation_time_utc"] for record in records) == [
        "2021-06-15T07:00:06.787Z", "2021-06-15T15:00:09.050Z", "2021-06-15T23:00:06.510Z"]
    assert all(record["vm_display_name"] == "virt03-ubuntu01" and record["backup_server_name"] == "backupsrv29.tech.local" for record in records)
    assert em_sim.state()["open_sessions"] == 0
