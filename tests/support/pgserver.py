"""A throw-away PostgreSQL server for the tests: Debian's `postgresql` binaries, a cluster in a temporary
folder, listening on 127.0.0.1 only, stopped and removed at the end. PostgreSQL refuses to run as root, so as
root the server runs as the `postgres` user (which Debian's package creates) or `nobody`.

Nothing is installed at run time: where the binaries or the Python driver are missing, `start()` raises
`Unavailable` with the reason and the tests that need a server skip with it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here (the message says why)."""


def _bindir() -> str:
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not dirs:
        raise Unavailable("PostgreSQL is not installed (Debian: apt-get install postgresql; "
                          "`make test` does it where apt-get is available)")
    return dirs[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server: `url(db)` gives a SQLAlchemy URL; `stop()` ends it and removes its folder."""

    root: str
    port: int
    bindir: str
    user: str | None

    def _run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        argv = list(cmd)
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://scalesearch@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        r = self._run(os.path.join(self.bindir, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", "scalesearch", name)
        if r.returncode != 0:
            raise RuntimeError(f"createdb {name}: {r.stderr.strip()}")
        return self.url(name)

    def stop(self) -> None:
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", os.path.join(self.root, "data"), "stop", "-m",
                  "fast", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Server:
    """Create a cluster in a temporary folder and start it on a free loopback port."""
    try:
        import psycopg  # noqa: F401  (the driver SQLAlchemy's postgresql+psycopg URLs use)
    except ImportError:
        raise Unavailable("the Python driver psycopg is not installed (pip install 'psycopg[binary]')") from None
    bindir = _bindir()
    user = None
    if os.geteuid() == 0:
        for name in ("postgres", "nobody"):
            try:
                pwd.getpwnam(name)
                user = name
                break
            except KeyError:
                continue
        if user is None or shutil.which("runuser") is None:
            raise Unavailable("running as root with no unprivileged user to run PostgreSQL as")
    root = tempfile.mkdtemp(prefix="scalesearch-pg-")
    os.chmod(root, 0o755)
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    server = Server(root, _free_port(), bindir, user)
    data = os.path.join(root, "data")
    r = server._run(os.path.join(bindir, "initdb"), "-D", data, "-U", "scalesearch", "--auth=trust",
                    "-E", "UTF8", "--no-sync", timeout=120)
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"initdb failed: {r.stderr.strip()[-300:]}")
    opts = f"-c listen_addresses=127.0.0.1 -p {server.port} -k {root} -c fsync=off"
    r = server._run(os.path.join(bindir, "pg_ctl"), "-D", data, "-o", opts, "-l", os.path.join(root, "log"),
                    "-w", "-t", "60", "start", timeout=90)
    if r.returncode != 0:
        log = ""
        if os.path.exists(os.path.join(root, "log")):
            with open(os.path.join(root, "log")) as f:
                log = f.read()[-300:]
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"pg_ctl start failed: {r.stderr.strip()[-200:]} {log}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", server.port)) == 0:
                return server
        time.sleep(0.2)
    server.stop()
    raise Unavailable("PostgreSQL did not accept connections within 30 s")
