# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throw-away PostgreSQL server for tests: initdb in a temporary directory, listening on 127.0.0.1 only.

Uses the server binaries of Debian's ``postgresql`` package (/usr/lib/postgresql/<major>/bin). PostgreSQL refuses
to run as root, so as root the server runs as the ``postgres`` account the package creates (else ``nobody``).
Clients authenticate with a password (scram-sha-256), as an AWX job would.

    server = PostgresServer.start()   # raises PostgresUnavailable with the reason when it cannot
    server.url()                      # postgresql://history_test@127.0.0.1:<port>/postgres (no password in it)
    server.password
    server.stop()

Run as a script it starts a server, prints its URL and password, and stops it on Enter (for manual tests).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

SUPERUSER = "history_test"


class PostgresUnavailable(Exception):
    """The server cannot be started on this machine; the message says why and how to fix it."""


def server_bin_dir():
    """The newest /usr/lib/postgresql/<major>/bin with initdb and pg_ctl, or None."""
    candidates = [path for path in glob.glob("/usr/lib/postgresql/*/bin")
                  if os.access(os.path.join(path, "initdb"), os.X_OK) and os.access(os.path.join(path, "pg_ctl"), os.X_OK)]
    candidates.sort(key=lambda path: int(path.split("/")[-2]) if path.split("/")[-2].isdigit() else 0)
    return candidates[-1] if candidates else None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as():
    """(uid, gid) to run the server as: None when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL as")


class PostgresServer:
    def __init__(self, bin_dir, base, port, password, owner):
        self.bin_dir = bin_dir
        self.base = base
        self.data = os.path.join(base, "data")
        self.log = os.path.join(base, "server.log")
        self.port = port
        self.password = password
        self.owner = owner

    @classmethod
    def start(cls, attempts=3):
        bin_dir = server_bin_dir()
        if bin_dir is None:
            raise PostgresUnavailable("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's "
                                      "postgresql package (make units installs it with tests/utils/ensure_debian_packages.sh)")
        owner = _run_as()
        base = tempfile.mkdtemp(prefix="history-pg-")
        os.chmod(base, 0o700)
        if owner:
            os.chown(base, *owner)
        server = cls(bin_dir, base, None, secrets.token_urlsafe(18), owner)
        try:
            server._initdb()
            for attempt in range(attempts):
                server.port = _free_port()
                try:
                    server._pg_ctl("start", "-w", "-t", "60", "-l", server.log, "-o",
                                   "-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories='%s' -c fsync=off"
                                   % (server.port, base))
                    return server
                except PostgresUnavailable:
                    if attempt == attempts - 1:
                        raise  # the port was taken between _free_port and the bind, three times in a row
        except BaseException:
            server.stop()
            raise
        return server

    def _command(self, *args, check=True):
        kwargs = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "cwd": self.base}
        if self.owner:
            kwargs.update(user=self.owner[0], group=self.owner[1], extra_groups=[])
        completed = subprocess.run(list(args), check=False, **kwargs)
        if check and completed.returncode != 0:
            log = ""
            if os.path.exists(self.log):
                with open(self.log, encoding="utf-8", errors="replace") as handle:
                    log = handle.read()[-2000:]
            raise PostgresUnavailable("%s failed (exit %d): %s %s" % (os.path.basename(args[0]), completed.returncode, completed.stdout[-2000:], log))
        return completed

    def _initdb(self):
        password_file = os.path.join(self.base, "pwfile")
        with open(password_file, "w", encoding="utf-8") as handle:
            handle.write(self.password + "\n")
        if self.owner:
            os.chown(password_file, *self.owner)
        self._command(os.path.join(self.bin_dir, "initdb"), "-D", self.data, "-U", SUPERUSER, "--pwfile", password_file,
                      "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8",
                      "--locale=C.UTF-8" if _has_c_utf8() else "--locale=C")
        os.unlink(password_file)

    def _pg_ctl(self, *args):
        return self._command(os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data, *args)

    def url(self, database="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (SUPERUSER, self.port, database)

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._pg_ctl("stop", "-m", "fast", "-w")
        # The postmaster removes its socket and lock files just after its pid file, which pg_ctl waits for: retry briefly.
        for _attempt in range(50):
            shutil.rmtree(self.base, ignore_errors=True)
            if not os.path.exists(self.base):
                return
            time.sleep(0.1)
        raise PostgresUnavailable("could not remove %s after stopping the server" % self.base)


def _has_c_utf8():
    return os.path.isdir("/usr/lib/locale/C.utf8") or os.path.isdir("/usr/lib/locale/C.UTF-8")


if __name__ == "__main__":
    running = PostgresServer.start()
    try:
        print("url: %s\npassword: %s" % (running.url(), running.password))
        input("Enter stops the server. ")
    finally:
        running.stop()
