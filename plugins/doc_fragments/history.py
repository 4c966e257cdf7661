# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The audit history options (module_utils/options.py SHARED_SPECS["history"]); a unit test keeps them equal.
    DOCUMENTATION = r"""
options:
  history:
    description:
      - Record the audit in this history store, compare it with the previous audit of the same scope, and add C(drift), C(trends)
        and C(history) to the report (see the collection's C(docs/history.md)). Off unless set.
      - A file path or C(sqlite:///absolute/path) (an SQLite file; its directory must exist), or a C(postgresql://user@host:port/database)
        URL (needs the Python library psycopg 3). A password in the URL is refused (Ansible would log it with the option);
        use O(history_password), or libpq's C(PGPASSWORD) or C(PGPASSFILE) environment variables.
      - If the store cannot be opened or written, the task fails with a message that names the store; the failed result still holds
        the report.
    type: str
  history_password:
    description:
      - Password of a PostgreSQL O(history) store. Never printed. Without it, libpq's C(PGPASSWORD) or C(PGPASSFILE) apply.
    type: str
  history_trend_days:
    description:
      - Days of recorded audits, up to this audit, that the report's C(trends) cover. C(0) leaves C(trends) out.
    type: int
    default: 90
"""
