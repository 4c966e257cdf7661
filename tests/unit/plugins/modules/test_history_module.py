# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cdp_compliance_history_info: trends as facts, errors that name the store, passwords never shown.
cdp_compliance_info with ``history``: drift against the simulator, a broken store keeps the audit."""

from __future__ import annotations

from ansible_collections.veeam.enterprise_manager.plugins.module_utils.history import record_audit
from ansible_collections.veeam.enterprise_manager.plugins.modules import cdp_compliance_history_info, cdp_compliance_info
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.conftest import FIXED_NOW
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.module_utils.history_reports import SCOPE, day, finding, report
from ansible_collections.veeam.enterprise_manager.tests.unit.plugins.modules.harness import connection_args, run_main


def test_trends_and_audits_as_facts(tmp_path, capsys):
    store = str(tmp_path / "history.db")
    for index in range(3):
        record_audit(store, report(day(index), {"db-01": [finding("coverage", "gap")] if index == 1 else [], "web-01": []}), SCOPE)
    code, result = run_main(cdp_compliance_history_info, {"history": "sqlite://" + store, "days": 30, "now": day(2), "vms": ["db-*"]}, capsys)
    assert code == 0 and result["changed"] is False and result["store"] == "sqlite://" + store
    assert [entry["vm"] for entry in result["trends"]["vms"]] == ["db-01"]
    entry = result["trends"]["vms"][0]
    assert entry["by_status"] == {"compliant": 2, "warning": 0, "non_compliant": 1}
    assert entry["longest_non_compliant_streak"]["start"] == day(1) and entry["current"]["since"] == day(2)
    assert [audit["audited_at"] for audit in result["audits"]] == [day(0), day(1), day(2)]
    assert all(len(audit["evidence_sha256"]) == 64 and "seq" not in audit for audit in result["audits"])


def test_broken_store_fails_naming_it(tmp_path, capsys):
    missing = str(tmp_path / "no-such-dir" / "history.db")
    code, result = run_main(cdp_compliance_history_info, {"history": missing}, capsys)
    assert code == 1 and result["failed"] and result["msg"].startswith("History store %s: " % missing)
    assert result["history_store"] == missing


def test_bad_days_names_the_option(tmp_path, capsys):
    code, result = run_main(cdp_compliance_history_info, {"history": str(tmp_path / "h.db"), "days": 0}, capsys)
    assert code == 1 and result["option"] == "days"


def test_password_in_the_url_is_refused_before_anything(capsys):
    code, result = run_main(cdp_compliance_history_info, {"history": "postgresql://auditor:Sup3rS3cret@127.0.0.1:1/cdp"}, capsys)
    assert code == 1 and result["option"] == "history" and "postgresql://auditor:********@127.0.0.1:1/cdp carries a password" in result["msg"]
    assert "Sup3rS3cret" not in str(result)


def test_password_option_is_never_printed(capsys):
    # Nothing listens on port 1: the connection fails, and nothing in the result shows the password.
    code, result = run_main(cdp_compliance_history_info, {"history": "postgresql://auditor@127.0.0.1:1/cdp", "history_password": "0therS3cret"},
                            capsys)
    assert code == 1 and result["msg"].startswith("History store postgresql://auditor@127.0.0.1:1/cdp: ")
    assert "0therS3cret" not in str(result)


def test_audit_module_records_and_compares(em_sim, tmp_path, capsys):
    store = str(tmp_path / "history.db")
    code, first = run_main(cdp_compliance_info, connection_args(em_sim, now="2025-06-20T11:00:00Z", history=store), capsys)
    assert code == 0 and first["report"]["drift"]["previous_audit"] is None
    assert first["drift_counts"] == {"new": 0, "resolved": 0, "persisting": 0, "appeared": 0, "disappeared": 0}
    code, second = run_main(cdp_compliance_info, connection_args(em_sim, now=FIXED_NOW, history=store, history_trend_days=7), capsys)
    assert code == 0 and second["report"]["drift"]["previous_audit"]["id"] == first["report"]["history"]["audit_id"]
    assert second["drift_counts"] == {name: len(second["report"]["drift"][name]) for name in second["drift_counts"]}
    assert second["report"]["trends"]["days"] == 7 and second["report"]["trends"]["audits"] == 2
    assert {vm["vm"] for vm in second["report"]["trends"]["vms"]} == {vm["name"] for vm in second["report"]["vms"]}
    code, without = run_main(cdp_compliance_info, connection_args(em_sim, now=FIXED_NOW), capsys)
    assert code == 0 and "drift" not in without["report"] and "drift_counts" not in without


def test_audit_module_broken_store_keeps_the_report(em_sim, tmp_path, capsys):
    store = str(tmp_path / "gone" / "history.db")
    code, result = run_main(cdp_compliance_info, connection_args(em_sim, now=FIXED_NOW, history=store), capsys)
    assert code == 1 and result["failed"] and result["history_store"] == store
    assert result["msg"].startswith("History store %s: the directory" % store)
    assert result["report"]["kind"] == "cdp_compliance_report" and result["report"]["summary"]["vms"] > 0 and "drift" not in result["report"]


def test_audit_module_refuses_a_password_in_the_url_before_reading_em(em_sim, capsys):
    code, result = run_main(cdp_compliance_info, connection_args(em_sim, history="postgresql://auditor:Sup3rS3cret@127.0.0.1:1/cdp"), capsys)
    assert code == 1 and result["option"] == "history" and "Sup3rS3cret" not in str(result)
    assert em_sim.query_requests() == []
