"""A throwaway PostgreSQL server for the store tests.

``initdb`` + ``pg_ctl`` in a temporary directory, run as a non-root user (initdb refuses root:
``postgres`` if it exists, else ``nobody``, via ``runuser``), listening on a unix socket in that
directory and on a free TCP port of 127.0.0.1 only. Durability is off (``fsync=off``): the data is
thrown away. Each test gets a fresh database. If PostgreSQL cannot be started the tests fail with the
reason under ``CI=true`` and are skipped with it otherwise (``scripts/test.sh`` installs Debian's
``postgresql`` when it is missing).

Use it from a test module with ``from tests._postgres import postgres_server, postgres_url``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "postgres_server", "postgres_url", "start_server", "stop_server"]

_SUPERUSER = "llmcp"


@dataclass(frozen=True)
class PostgresServer:
    root: Path
    bin_dir: Path
    port: int
    run_as: tuple[str, ...]

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host="127.0.0.1", port=self.port, user=_SUPERUSER, dbname="postgres",
                             autocommit=True, connect_timeout=10) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: next to ``initdb`` on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []

    def version(p: Path) -> int:
        m = re.search(r"/(\d+)/bin$", str(p))
        return int(m.group(1)) if m else 0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "pg_ctl").is_file():
            return cand
    return None


def _run_as() -> tuple[tuple[str, ...], int, int]:
    """The command prefix that drops root, and the uid/gid it runs as."""
    if os.geteuid() != 0:
        return (), os.getuid(), os.getgid()
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and `runuser` is missing (initdb refuses to run as root)")
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(user)
            return (runuser, "-u", user, "--"), entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither the `postgres` nor the `nobody` user exists")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(cmd: list[str], root: Path, what: str, timeout_s: float = 60) -> None:
    res = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout_s, check=False)
    if res.returncode != 0:
        log = root / "server.log"
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        raise RuntimeError(f"{what} failed (exit {res.returncode}): {(res.stderr or res.stdout)[-1500:]}{tail}")


def start_server() -> PostgresServer:
    """Start a server; raise RuntimeError saying why when it cannot."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("initdb/pg_ctl not found (install Debian's `postgresql`, as scripts/test.sh does)")
    prefix, uid, gid = _run_as()
    # under /tmp when dropping root: $TMPDIR may be a directory the server's user cannot enter
    base = "/tmp" if prefix and Path("/tmp").is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="llmcp-pg-", dir=base))
    try:
        os.chown(root, uid, gid)
        root.chmod(0o700)
        _call([*prefix, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", _SUPERUSER, "-A", "trust",
               "-E", "UTF8", "--locale=C", "-N"], root, "initdb")
        last: RuntimeError | None = None
        for _ in range(3):  # a free port can be taken between the probe and the start
            port = _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            try:
                _call([*prefix, str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"),
                       "-w", "-t", "30", "-o", opts, "start"], root, "pg_ctl start")
                return PostgresServer(root=root, bin_dir=bin_dir, port=port, run_as=prefix)
            except RuntimeError as exc:
                last = exc
        raise last or RuntimeError("pg_ctl start failed")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def stop_server(server: PostgresServer) -> None:
    """Stop the server and remove its directory."""
    with contextlib.suppress(Exception):
        subprocess.run([*server.run_as, str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-m",
                        "immediate", "-w", "stop"], cwd=server.root, capture_output=True, timeout=60, check=False)
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = start_server()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        message = f"PostgreSQL could not be started for the store tests: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    atexit.register(stop_server, server)  # also if the session ends abnormally; stopping twice is harmless
    try:
        yield server
    finally:
        stop_server(server)
        atexit.unregister(stop_server)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return postgres_server.create_database()
