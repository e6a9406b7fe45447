"""A real PostgreSQL server for the tests: `initdb` in a temporary folder, listening on 127.0.0.1 at a free
port, trust authentication, stopped at the end. PostgreSQL refuses to run as root, so as root it runs as
the `postgres` user (Debian's package makes it). Missing server binaries are an error, never a skip:
`.ci/run` installs them (apt-get install postgresql)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                       "apt-get install -y postgresql (or run .ci/run, which does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable  # benchmarks: PostgreSQL's defaults (fsync on); tests: no syncs, faster
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_other = os.geteuid() == 0
        if self.as_other:
            shutil.chown(self.root, "postgres")

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_other:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)

    def start(self) -> "Server":
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        for _ in range(50):  # CREATE DATABASE fails while another is being created from template1
            try:
                with psycopg.connect(self.url(), autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                return self.url(name)
            except psycopg.errors.ObjectInUse:
                time.sleep(0.1)
        raise RuntimeError(f"could not create database {name}")
