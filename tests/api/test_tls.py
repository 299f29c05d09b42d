"""`serve` and `dashboard` over HTTPS, with a self-signed certificate made in the test."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from insightflow import Lakehouse
from tests.servers import free_port, missing


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        missing("needs openssl (Debian's openssl) to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _serving(command: list[str], url: str, cert: Path) -> subprocess.Popen:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, process.stderr.read().decode()[-2000:] if process.stderr else ""
        try:
            if httpx.get(url, verify=_trusting(cert), timeout=2).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"nothing answered on {url}"
        time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.parametrize("command", ["serve", "dashboard"])
def test_https_with_a_certificate(command: str, certificate: tuple[Path, Path], lake: Lakehouse,
                                  small_export: Path) -> None:
    lake.run(small_export)
    cert, key = certificate
    port = free_port()
    path = "/health" if command == "serve" else "/_stcore/health"
    process = _serving([sys.executable, "-m", "insightflow.cli", command, "--port", str(port), "--tls-cert", str(cert),
                        "--tls-key", str(key), "--lake", str(lake.layout.root)], f"https://127.0.0.1:{port}{path}", cert)
    try:
        answer = httpx.get(f"https://127.0.0.1:{port}{path}", verify=_trusting(cert), timeout=10)
        assert answer.status_code == 200
        with pytest.raises(httpx.HTTPError):  # no plain HTTP beside it
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
        with pytest.raises(httpx.ConnectError):  # and a client that does not trust the certificate refuses
            httpx.get(f"https://127.0.0.1:{port}{path}", timeout=5)
    finally:
        _stop(process)


def test_a_certificate_without_its_key_is_refused(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, _ = certificate
    result = subprocess.run([sys.executable, "-m", "insightflow.cli", "serve", "--tls-cert", str(cert),
                             "--lake", str(tmp_path / "lake")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("insightflow: error: HTTPS needs both a certificate and its key (--tls-cert "
                                     "and --tls-key, or [server] tls_cert and tls_key)")
