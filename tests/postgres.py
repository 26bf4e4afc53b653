"""A throwaway PostgreSQL server for tests, CI and benchmarks: Debian's server binaries, a temporary directory,
a free port on 127.0.0.1, stopped (and its files removed) at the end.

`MOA_TEST_DATABASE_URL=postgresql://user@host:port/db` points everything at an existing server instead.

As a script (used by `.ci/run`): `python tests/postgres.py start` prints the admin URL of a new server,
`python tests/postgres.py stop DIR` stops it. Failing to start is loud: an exception with the server's log.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ENV_URL = "MOA_TEST_DATABASE_URL"
BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")
# Tests throw their data away: durability only costs time there. The benchmark keeps PostgreSQL's defaults.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class PostgresUnavailable(RuntimeError):
    """The throwaway server could not be started; the message says why and holds its log."""


def _bin(name: str) -> str:
    for directory in BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise PostgresUnavailable(f"PostgreSQL's `{name}` was not found in {', '.join(BIN_DIRS)} or on PATH; "
                              "install the server (Debian: `apt-get install postgresql`).")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() != 0:
        return argv
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{arg}'" for arg in argv)]


@dataclass
class PostgresServer:
    """A running throwaway server. `url` is its admin URL (user postgres, database postgres)."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start(cls, *, durable: bool = False) -> PostgresServer:
        """initdb into a new temporary directory and start the server there; raises PostgresUnavailable."""
        directory = Path(tempfile.mkdtemp(prefix="moa-pg-"))
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        port = _free_port()
        server = cls(directory, port)
        data = directory / "db"
        init = subprocess.run(_as_server_user([_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                               "--no-sync", "-E", "UTF8"]),
                              capture_output=True, text=True, check=False)
        if init.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            raise PostgresUnavailable(f"initdb failed ({init.returncode}): {init.stderr.strip() or init.stdout}")
        try:
            server._run_server(durable=durable)
        except PostgresUnavailable:
            server.stop()
            raise
        return server

    def _run_server(self, *, durable: bool = False) -> None:
        data, log = self.directory / "db", self.directory / "log"
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        if not durable:
            options += "".join(f" -c {setting}" for setting in FAST_SETTINGS)
        started = subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                                                  "-t", "60", "-o", options, "start"]),
                                 capture_output=True, text=True, check=False)
        if started.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed ({started.returncode}): {started.stderr.strip()}\n"
                                      f"server log:\n{text}")

    def halt(self) -> None:
        """Stop the server at once (as a crash or an operator would), keeping its files for `resume`."""
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(self.directory / "db"), "-m", "immediate",
                                        "-w", "stop"]), capture_output=True, check=True)

    def resume(self) -> None:
        """Start a halted server again, on the same port with the same data."""
        self._run_server()

    def stop(self) -> None:
        """Stop the server at once and delete its files."""
        data = self.directory / "db"
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


async def create_database(admin_url: str) -> str:
    """A new, empty place for one test's tables: a schema of its own, named in the URL's search_path.

    (A schema takes milliseconds where CREATE DATABASE takes a fifth of a second.)
    """
    name = f"moa_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await conn.close()
    return f"{admin_url}{'&' if '?' in admin_url else '?'}search_path={name}"


async def drop_database(admin_url: str, url: str) -> None:
    """Drop what create_database made, with everything in it."""
    name = url.rsplit("search_path=", 1)[1]
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        server = PostgresServer.start(durable="--durable" in argv)
        print(server.url, server.directory)
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        PostgresServer(Path(argv[1]), port=0).stop()  # stopping needs only the directory
        return 0
    print("usage: python tests/postgres.py start [--durable] | stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
