# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provenance: the API version a session runs, EM's version when it states one, labels."""

from __future__ import annotations

import pytest

from ansible_collections.veeam.enterprise_manager.plugins.module_utils import provenance
from ansible_collections.veeam.enterprise_manager.plugins.module_utils.errors import CommunicationError


class Response:
    def __init__(self, content, content_type):
        self.content = content
        self.headers = {"Content-Type": content_type}


class Client:
    def __init__(self, response=None, error=None):
        self.response, self.error = response, error

    def request(self, method, path, accept="xml"):
        assert (method, path) == ("GET", "/api/")
        if self.error:
            raise self.error
        return self.response


XML = (b'<EnterpriseManager xmlns="http://www.veeam.com/ent/v1.0"><Links/><SupportedVersions>'
       b'<SupportedVersion Name="v1_6"><Links/></SupportedVersion><SupportedVersion Name="v1_10"><Links/></SupportedVersion>'
       b'<SupportedVersion Name="v1_7"><Links/></SupportedVersion></SupportedVersions></EnterpriseManager>')


def test_latest_is_the_newest_supported_version_numerically():
    found = provenance.em_provenance(Client(Response(XML, "application/xml")), "latest")
    assert found["api_version"] == "v1_10" and found["api_versions_supported"] == ["v1_6", "v1_10", "v1_7"]
    assert found["em_version"] is None and found["em_build"] is None


def test_a_stated_product_version_and_build_are_recorded_from_camel_case_json():
    body = b'{"links": [], "supportedVersions": {"supportedVersion": [{"name": "v1_7"}]}, "productVersion": "13.0.1", "build": "1071"}'
    found = provenance.em_provenance(Client(Response(body, "application/json")), "latest")
    assert (found["api_version"], found["em_version"], found["em_build"]) == ("v1_7", "13.0.1", "1071")


def test_an_unreadable_discovery_document_does_not_fail_the_audit():
    found = provenance.em_provenance(Client(error=CommunicationError("refused")), "latest")
    assert found["api_version"] is None and found["api_version_requested"] == "latest" and "refused" in found["provenance_error"]
    assert provenance.em_provenance(Client(error=CommunicationError("x")), "v1_6")["api_version"] == "v1_6"


@pytest.mark.parametrize("names, newest", [([], None), (["odd"], None), (["v1_5", "V1_7", "v1_6"], "V1_7")])
def test_newest_version(names, newest):
    assert provenance.newest_version(names) == newest


def test_audit_labels():
    labels = provenance.audit_labels({"title": " Q4 ", "period": None, "awx_job": {"id": 7, "template": None}})
    assert labels["title"] == "Q4" and labels["period"] is None and labels["controller"]
    assert labels["awx_job"] == {"id": "7", "template": None, "launched_by": None}
    assert provenance.audit_labels({"awx_job": {"id": "", "template": None}})["awx_job"] is None
