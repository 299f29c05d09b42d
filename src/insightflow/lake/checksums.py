"""Bit rot: a checksum of every data file, recorded when it is committed, checked by ``verify``.

Parquet readers trust their bytes: one flipped byte in a published file can make a figure wrong
without an error (net profit -2.12e307 was seen). So each data file committed to a local lake gets
a sidecar ``<file>.crc32`` holding its CRC-32 and size, written before the commit and deleted with
the file; ``insightflow verify`` reads every file of the published snapshots and every landing copy
again (landing copies are named by their SHA-256) and names each one that changed. On an object
store the store checks its objects itself (S3 verifies every object's integrity); there, verify
checks that each file is there with the size the manifest records and a readable footer.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from insightflow.lake.storage import LakeStorage

SIDECAR = ".crc32"
_CHUNK = 1 << 22


def crc32_of(storage: LakeStorage, location: str) -> tuple[int, int]:
    """(CRC-32, bytes) of a file."""
    crc, size = 0, 0
    with storage.open(location) as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return crc, size


def record_checksum(storage: LakeStorage, staged: str, final: str) -> None:
    """Write the sidecar of ``final`` from the staged file about to become it (a local lake)."""
    if storage.remote:
        return
    crc, size = crc32_of(storage, staged)
    with storage.open(final + SIDECAR, "wb") as handle:
        handle.write(f"{crc:08x} {size}\n".encode())


def delete_checksum(storage: LakeStorage, location: str) -> None:
    if not storage.remote:
        storage.delete(location + SIDECAR)


@dataclass
class Verification:
    """What ``verify`` found."""

    files: int = 0
    bytes: int = 0
    unrecorded: int = 0  # data files written before checksums were recorded (size and footer only)
    landing: int = 0
    problems: list[dict] = field(default_factory=list)


def verify_files(storage: LakeStorage, tables: dict[str, tuple[str, ...]], report: Verification) -> None:
    """Check every data file of ``tables`` (name -> files) against its sidecar and its footer."""
    for table, files in tables.items():
        for location in files:
            report.files += 1
            try:
                size = storage.size(location)
            except FileNotFoundError:
                report.problems.append({"table": table, "file": location, "problem": "missing"})
                continue
            report.bytes += size
            if not storage.remote:
                try:
                    with storage.open(location + SIDECAR) as handle:
                        expected, expected_size = handle.read().decode().split()
                except FileNotFoundError:
                    report.unrecorded += 1
                else:
                    crc, actual = crc32_of(storage, location)
                    if (f"{crc:08x}", actual) != (expected, int(expected_size)):
                        report.problems.append({"table": table, "file": location, "problem":
                                                f"changed since it was committed (CRC-32 {crc:08x}, "
                                                f"recorded {expected}; {actual:,} bytes, recorded {int(expected_size):,})"})
                        continue
            try:
                with storage.open(location) as handle:
                    pq.ParquetFile(handle).metadata  # noqa: B018 - the footer parses
            except (pa.ArrowInvalid, OSError) as error:
                report.problems.append({"table": table, "file": location, "problem": f"not readable Parquet ({error})"})


def verify_landing(storage: LakeStorage, report: Verification) -> None:
    """Check that every landing copy still hashes to its name."""
    for location in storage.list(storage.landing, ".csv"):
        report.landing += 1
        digest = hashlib.sha256()
        with storage.open(location) as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        name = location.rsplit("/", 1)[-1].removesuffix(".csv")
        if digest.hexdigest() != name:
            report.problems.append({"table": "landing", "file": location,
                                    "problem": f"changed since it was landed (SHA-256 {digest.hexdigest()[:12]}…)"})
