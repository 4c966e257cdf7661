# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the audit history lives: the store URL, its masked form, and one connection class per database.

A store is a file path or ``sqlite:///path`` (stdlib sqlite3, WAL mode), or a ``postgresql://`` URL
(psycopg 3; the password comes from the URL, the ``password`` argument, or libpq's own
``PGPASSWORD`` / ``PGPASSFILE``). Every message names the store by ``masked_url``, never with its password.
"""

from __future__ import annotations

import os
import re

from .errors import EmError, InvalidInputError

try:
    import sqlite3
    HAS_SQLITE = True
    SQLITE_IMPORT_ERROR = None
except ImportError as exc:  # a Python built without sqlite3
    HAS_SQLITE = False
    SQLITE_IMPORT_ERROR = exc


# How long a writer waits for another writer's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 15
# Any constant works: it only has to be the same for every writer of one PostgreSQL database.
PG_MIGRATION_LOCK = 0x7EEA4C0D
_URL_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/@?#]*:)([^@/?#]*)(@)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


class HistoryStoreError(EmError):
    """The history store could not be opened, read or written. The message names the store (masked)."""

    def __init__(self, store, problem, fix=None):
        message = "History store %s: %s" % (store, problem)
        if fix:
            message += " " + fix
        super().__init__(message, history_store=store)
        self.store = store


def load_psycopg():
    """(psycopg module, None), or (None, the ImportError). Imported on first use: it takes a third of a second, and only
    postgresql:// stores need it."""
    try:
        import psycopg  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        return None, exc
    return psycopg, None


def mask_url(url):
    """The store URL with any password replaced by ``********``."""
    text = _URL_PASSWORD.sub(lambda match: match.group(1) + "********" + match.group(3), str(url))
    return _QUERY_PASSWORD.sub(lambda match: match.group(1) + "********", text)


def url_password(url):
    """The password written in a postgresql:// URL, or None (so callers can hide it from logs)."""
    match = _URL_PASSWORD.match(str(url))
    return match.group(2) if match and match.group(2) else None


def _scrub(text, secrets):
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


class Connection:
    """One open connection. SQL is written with ``?`` placeholders; each backend adapts them."""

    kind = None

    def __init__(self, url, password=None):
        self.url = url
        self.masked = mask_url(url)
        self._secrets = [secret for secret in (password, url_password(url)) if secret]
        self.conn = None

    def fail(self, action, exc, fix=None):
        """A HistoryStoreError for a database exception, with no secret in its text."""
        detail = _scrub(" ".join(str(exc).split()), self._secrets) or type(exc).__name__
        return HistoryStoreError(self.masked, "%s failed: %s" % (action, detail), fix)

    def execute(self, sql, params=()):
        return self.conn.execute(self.adapt(sql), params)

    def executemany(self, sql, rows):
        cursor = self.conn.cursor()
        cursor.executemany(self.adapt(sql), rows)
        return cursor

    @staticmethod
    def adapt(sql):
        return sql

    def close(self):
        if self.conn is not None:
            conn, self.conn = self.conn, None
            conn.close()


class SQLiteConnection(Connection):
    kind = "sqlite"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    errors = (sqlite3.Error,) if HAS_SQLITE else ()

    def __init__(self, url, path, password=None):
        super().__init__(url, password)
        self.path = path

    def open(self):
        if not HAS_SQLITE:
            raise HistoryStoreError(self.masked, "this Python has no sqlite3 module (%s)." % SQLITE_IMPORT_ERROR,
                                    "Use a Python built with sqlite3, or a postgresql:// store.")
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise HistoryStoreError(self.masked, "the directory %s does not exist." % directory, "Create it, or choose another path.")
        try:
            # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) so writers queue instead of deadlocking.
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = %d" % (BUSY_TIMEOUT_SECONDS * 1000))
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self.conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            self.close()
            raise self.fail("opening", exc, "Check that the path is a history store (or a new file) and writable.")
        self.journal_mode = mode

    def begin(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def lock_schema(self):
        """Serialise migrations between writers; BEGIN IMMEDIATE already holds SQLite's write lock."""

    def commit(self):
        self.conn.execute("COMMIT")

    def rollback(self):
        if self.conn is not None and self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def table_exists(self, name):
        return self.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None

    def insert_returning(self, sql, params, column):
        return self.execute(sql, params).lastrowid


class PostgresConnection(Connection):
    kind = "postgresql"
    serial = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    errors = ()  # psycopg.Error once open() has imported psycopg

    def __init__(self, url, password=None, connect_timeout=CONNECT_TIMEOUT_SECONDS):
        super().__init__(url, password)
        self.password = password
        self.connect_timeout = connect_timeout

    def open(self):
        psycopg, import_error = load_psycopg()
        if psycopg is None:
            raise HistoryStoreError(self.masked, "a postgresql:// store needs the Python library psycopg (version 3), which failed to "
                                    "import: %s." % import_error,
                                    "Install it where the audit runs (pip install 'psycopg[binary]'), for AWX in the execution environment.")
        self.errors = (psycopg.Error,)
        extra = {"connect_timeout": self.connect_timeout, "application_name": "veeam.enterprise_manager history"}
        if self.password:
            extra["password"] = self.password
        try:
            self.conn = psycopg.connect(self.url, autocommit=False, **extra)
        except psycopg.Error as exc:
            raise self.fail("connecting", exc, "Check the URL, that the server is reachable, and the password (PGPASSWORD, PGPASSFILE "
                                               "or the history password option).")
        self.journal_mode = None

    @staticmethod
    def adapt(sql):
        return sql.replace("?", "%s")

    def begin(self):
        """psycopg opens a transaction with the first statement."""

    def lock_schema(self):
        # Held until commit or rollback: two jobs migrating a new database at once take turns.
        self.execute("SELECT pg_advisory_xact_lock(?)", (PG_MIGRATION_LOCK,))

    def commit(self):
        self.conn.commit()

    def rollback(self):
        if self.conn is not None:
            self.conn.rollback()

    def table_exists(self, name):
        # A catalog query, not to_regclass(): that one may answer from a cache that still misses a table another
        # job created while this one waited for the migration lock.
        return self.execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE c.relname = ? AND c.relkind IN ('r', 'p') AND n.nspname = current_schema())", (name,)).fetchone()[0]

    def insert_returning(self, sql, params, column):
        return self.execute("%s RETURNING %s" % (sql, column), params).fetchone()[0]


def connection_for(url, password=None):
    """The connection class for a store URL or path; raises InvalidInputError for anything else."""
    text = str(url or "").strip()
    if not text:
        raise InvalidInputError("history", "the store is empty.", "Give a file path, sqlite:///path or postgresql://user@host/db.")
    lowered = text.lower()
    if lowered.startswith(("postgresql://", "postgres://")):
        return PostgresConnection(text, password)
    if lowered.startswith("sqlite://"):
        path = text[len("sqlite://"):]
        if not path.startswith("/"):
            raise InvalidInputError("history", "%s has no absolute path after sqlite://." % mask_url(text),
                                    "Write sqlite:///var/lib/cdp/history.db, or give the path alone.")
        return SQLiteConnection(text, path, password)
    if re.match(r"^[a-z][a-z0-9+.-]*://", lowered):
        raise InvalidInputError("history", "%s uses an unsupported scheme." % mask_url(text),
                                "Give a file path, sqlite:///path or postgresql://user@host/db.")
    return SQLiteConnection(text, os.path.expanduser(text), password)
