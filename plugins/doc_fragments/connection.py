# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Keep in step with plugins/module_utils/options.py CONNECTION_OPTIONS (a unit test checks it).
    # PLUGINS: env VEEAM_EM_<NAME>, var veeam_em_<name>, ini key <name>, derived from the name as the table does.
    DOCUMENTATION = r"""
options:
  host:
    description:
      - Enterprise Manager host name, or a base URL such as C(https://em.example.com:9398).
      - An C(http://) URL is refused unless O(allow_plain_http) is set (for test simulators).
      - If not set, the value of the E(VEEAM_EM_HOST) environment variable is used.
      - Required.
    type: str
  port:
    description:
      - TCP port of the EM REST API. Ignored when O(host) is a URL that names a port.
      - EM listens on 9398. Port 9419 is the Backup & Replication REST API, which cannot return CDP task sessions.
      - If not set, the value of the E(VEEAM_EM_PORT) environment variable is used.
    type: int
    default: 9398
  username:
    description:
      - EM account, for example C(DOMAIN\\user) or C(user@domain). Needs an EM role (Portal Administrator, Portal User or Restore Operator).
      - Not needed when O(session_id) is given.
      - If not set, the value of the E(VEEAM_EM_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - Password of O(username). Never logged or returned.
      - If not set, the value of the E(VEEAM_EM_PASSWORD) environment variable is used.
    type: str
  session_id:
    description:
      - Reuse an EM logon session (the value of the C(X-RestSvcSessionId) header), for example from the M(veeam.enterprise_manager.session)
        module. The task then neither logs on nor logs off.
      - EM ends a session after 15 minutes without requests.
      - If not set, the value of the E(VEEAM_EM_SESSION_ID) environment variable is used.
    type: str
  validate_certs:
    description:
      - Verify EM's TLS certificate. Turn off only for tests; a warning is shown when off.
      - EM generates a self-signed certificate at setup; prefer O(ca_path) over turning this off.
      - If not set, the value of the E(VEEAM_EM_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - Path of a PEM file with the CA certificate(s) that signed EM's certificate. Used instead of the system trust store.
        A leading C(~) is expanded; an empty value means no CA file.
      - If not set, the value of the E(VEEAM_EM_CA_PATH) environment variable is used.
    type: str
  timeout:
    description:
      - Seconds to wait for EM to answer one request.
      - If not set, the value of the E(VEEAM_EM_TIMEOUT) environment variable is used.
    type: int
    default: 30
  api_version:
    description:
      - EM REST API version asked for at logon, C(latest) or for example C(v1_7) (VBR 12 and 13) or C(v1_6) (VBR 11). CDP needs v1_6 or later.
      - If not set, the value of the E(VEEAM_EM_API_VERSION) environment variable is used.
    type: str
    default: latest
  retries:
    description:
      - How many times an idempotent request is retried after a connection error, a read timeout or HTTP 500, 502, 503 or 504,
        with exponential backoff and jitter. A logon is never retried after HTTP 401.
      - If not set, the value of the E(VEEAM_EM_RETRIES) environment variable is used.
    type: int
    default: 3
  workers:
    description:
      - How many result pages are fetched in parallel once the first page is in. The connection pool matches it. From 1 to 16.
      - If not set, the value of the E(VEEAM_EM_WORKERS) environment variable is used.
    type: int
    default: 4
  query_timeout:
    description:
      - The longest a whole query may take, in seconds, every page and every repeated pass included; the task then fails
        and no partial result is returned. It is checked before each page, so a request already under way ends within
        O(timeout) (per attempt) first. From 1 to 86400.
      - If not set, the value of the E(VEEAM_EM_QUERY_TIMEOUT) environment variable is used.
    type: int
    default: 1800
  allow_plain_http:
    description:
      - Allow an C(http://) O(host). Without it such a host is refused before any request, because the password and the session id
        would travel unencrypted. Meant for test simulators; a warning is still shown when set.
      - If not set, the value of the E(VEEAM_EM_ALLOW_PLAIN_HTTP) environment variable is used.
    type: bool
    default: false
  request_timeout:
    description:
      - Seconds one request may take in total, from sending it to the last byte of EM's answer (O(timeout) bounds each read only,
        so a server that trickles its answer would otherwise never time out). From 1 to 86400.
      - If not set, the value of the E(VEEAM_EM_REQUEST_TIMEOUT) environment variable is used.
    type: int
    default: 300
  max_response_mb:
    description:
      - The largest answer read from EM, in MiB; a larger one fails the task with an error that names this option.
      - By default derived from the page size, 16 MiB plus 64 KiB per record of a page (78 MiB for a page size of 1000).
      - If not set, the value of the E(VEEAM_EM_MAX_RESPONSE_MB) environment variable is used.
    type: int
"""

    PLUGINS = r"""
options:
  host:
    env:
      - name: VEEAM_EM_HOST
    ini:
      - section: veeam_enterprise_manager
        key: host
    vars:
      - name: veeam_em_host
  port:
    env:
      - name: VEEAM_EM_PORT
    ini:
      - section: veeam_enterprise_manager
        key: port
    vars:
      - name: veeam_em_port
  username:
    env:
      - name: VEEAM_EM_USERNAME
    ini:
      - section: veeam_enterprise_manager
        key: username
    vars:
      - name: veeam_em_username
  password:
    env:
      - name: VEEAM_EM_PASSWORD
    ini:
      - section: veeam_enterprise_manager
        key: password
    vars:
      - name: veeam_em_password
  session_id:
    env:
      - name: VEEAM_EM_SESSION_ID
    ini:
      - section: veeam_enterprise_manager
        key: session_id
    vars:
      - name: veeam_em_session_id
  validate_certs:
    env:
      - name: VEEAM_EM_VALIDATE_CERTS
    ini:
      - section: veeam_enterprise_manager
        key: validate_certs
    vars:
      - name: veeam_em_validate_certs
  ca_path:
    env:
      - name: VEEAM_EM_CA_PATH
    ini:
      - section: veeam_enterprise_manager
        key: ca_path
    vars:
      - name: veeam_em_ca_path
  timeout:
    env:
      - name: VEEAM_EM_TIMEOUT
    ini:
      - section: veeam_enterprise_manager
        key: timeout
    vars:
      - name: veeam_em_timeout
  api_version:
    env:
      - name: VEEAM_EM_API_VERSION
    ini:
      - section: veeam_enterprise_manager
        key: api_version
    vars:
      - name: veeam_em_api_version
  retries:
    env:
      - name: VEEAM_EM_RETRIES
    ini:
      - section: veeam_enterprise_manager
        key: retries
    vars:
      - name: veeam_em_retries
  workers:
    env:
      - name: VEEAM_EM_WORKERS
    ini:
      - section: veeam_enterprise_manager
        key: workers
    vars:
      - name: veeam_em_workers
  query_timeout:
    env:
      - name: VEEAM_EM_QUERY_TIMEOUT
    ini:
      - section: veeam_enterprise_manager
        key: query_timeout
    vars:
      - name: veeam_em_query_timeout
  allow_plain_http:
    env:
      - name: VEEAM_EM_ALLOW_PLAIN_HTTP
    ini:
      - section: veeam_enterprise_manager
        key: allow_plain_http
    vars:
      - name: veeam_em_allow_plain_http
  request_timeout:
    env:
      - name: VEEAM_EM_REQUEST_TIMEOUT
    ini:
      - section: veeam_enterprise_manager
        key: request_timeout
    vars:
      - name: veeam_em_request_timeout
  max_response_mb:
    env:
      - name: VEEAM_EM_MAX_RESPONSE_MB
    ini:
      - section: veeam_enterprise_manager
        key: max_response_mb
    vars:
      - name: veeam_em_max_response_mb
"""
