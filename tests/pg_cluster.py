"""A throw-away PostgreSQL cluster on loopback for the test run (started and removed by conftest)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def pg_bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return candidates[-1].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PgCluster:
    bin_dir: Path
    data_dir: Path
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    @classmethod
    def start(cls) -> PgCluster:
        bin_dir = pg_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL server binaries not found: run 'make test' (it installs them)")
        data_dir = Path(tempfile.mkdtemp(prefix="mesoclinic-pg-"))
        if os.geteuid() == 0:
            shutil.chown(data_dir, "postgres", "postgres")
        data_dir.chmod(0o700)
        cluster = cls(bin_dir, data_dir, _free_port())
        cluster._run(
            "initdb",
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        # fsync stays on: the crash tests rely on committed means durable.
        cluster._run(
            "pg_ctl",
            "-D",
            str(data_dir),
            "-l",
            str(data_dir / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            f"-p {cluster.port} -k {data_dir} -c listen_addresses=127.0.0.1 -c max_connections=200",
            "start",
        )
        return cluster

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)
