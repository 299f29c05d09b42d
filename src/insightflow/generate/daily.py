"""A series of daily full exports: what a lake fed one export a day receives.

``generate_days(out, days=30)`` writes ``out/day-01`` … ``out/day-30``, each a complete export in
the format of the real one. Day 1 holds the orders of a ``generate`` export; each later day adds
about ``growth`` (0.5 %) new orders with their lines and deliveries, moves about ``change`` (1 %)
of the order lines to another status (every line of an order together: an order has one status)
and turns about half as many deliveries late (status, late-delivery risk, one more shipping day).
Changes accumulate: a day's export is the previous one, updated. Customers and products are the
same every day. The same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insightflow.errors import UsageError
from insightflow.generate.csvtext import BOM, EOL
from insightflow.generate.generator import FILE_NAMES, MANIFEST_NAME, generate

_EOL = EOL.encode()
_ORDER_ID = {"orders": 1, "deliveries": 0}  # field holding the order id
_ORDER_STATUS, _ORDER_FIELDS = 8, 10
_SHIPPING_DAYS, _DELIVERY_STATUS, _LATE_RISK, _DELIVERY_FIELDS = 1, 2, 3, 6
_LATE = b"Late delivery"


@dataclass(frozen=True)
class DailyResult:
    """What ``generate_days`` wrote: a folder per day and its rows per source."""

    folders: list[Path]
    rows: list[dict[str, int]]
    seconds: float


def generate_days(out: Path, days: int, scale: float = 1.0, seed: int = 42, dirty: float = 0.0,
                  growth: float = 0.005, change: float = 0.01) -> DailyResult:
    """Write ``days`` daily full exports into ``out/day-01`` … (see the module's docstring)."""
    started = time.perf_counter()
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise UsageError(f"days must be a whole number from 1 to 3650, got {days!r}")
    out = Path(out)
    final = out / ".final"
    grown = 1 + growth * (days - 1)
    generate(final, scale=scale * grown, seed=seed, dirty=dirty)  # the last day's orders
    files = {source: _read_records(final / name) for source, name in FILE_NAMES.items()}
    order_ids = {source: _order_ids(files[source][1], field) for source, field in _ORDER_ID.items()}
    distinct = np.unique(order_ids["deliveries"][order_ids["deliveries"] >= 0])
    rng = np.random.default_rng(np.random.SeedSequence([seed, days, 1]))
    statuses = sorted({r.split(b",")[_ORDER_STATUS] for r in files["orders"][1][:10_000]
                       if r.count(b",") == _ORDER_FIELDS - 1})
    manifest = json.loads((final / MANIFEST_NAME).read_text("utf-8")) if dirty else None
    folders, rows = [], []
    for day in range(1, days + 1):
        last_order = distinct[min(len(distinct), round(len(distinct) * (1 + growth * (day - 1)) / grown)) - 1]
        cut = {source: _cut(ids, last_order) for source, ids in order_ids.items()}
        if day > 1:
            _change_statuses(rng, files["orders"][1], order_ids["orders"], cut["orders"], change, statuses)
            _make_late(rng, files["deliveries"][1], cut["deliveries"], change / 2)
        folder = out / f"day-{day:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        counts = {}
        for source, name in FILE_NAMES.items():
            header, records = files[source]
            kept = records[: cut[source]] if source in cut else records
            _write_records(folder / name, header, kept)
            counts[source] = len(kept)
        if manifest is not None:
            _write_day_manifest(folder, manifest, {FILE_NAMES[s]: n + 1 for s, n in cut.items()})
        folders.append(folder)
        rows.append(counts)
    shutil.rmtree(final, ignore_errors=True)
    return DailyResult(folders, rows, round(time.perf_counter() - started, 3))


def _read_records(path: Path) -> tuple[bytes, list[bytes]]:
    data = path.read_bytes().removeprefix(BOM)
    header, _, body = data.partition(_EOL)
    return header, body.split(_EOL) if body else []


def _write_records(path: Path, header: bytes, records: list[bytes]) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(BOM + header + _EOL + _EOL.join(records))
    os.replace(temporary, path)


def _order_ids(records: list[bytes], field: int) -> np.ndarray:
    """The order id of each record (-1 where a defect made it unreadable)."""
    ids = np.full(len(records), -1, dtype=np.int64)
    for i, record in enumerate(records):
        parts = record.split(b",", field + 1)
        if len(parts) > field and parts[field].isdigit():
            ids[i] = int(parts[field])
    return ids


def _cut(ids: np.ndarray, last_order: int) -> int:
    """How many records (in file order, grouped by order) belong to orders up to ``last_order``."""
    beyond = np.flatnonzero(ids > last_order)
    return int(beyond[0]) if len(beyond) else len(ids)


def _change_statuses(rng: np.random.Generator, records: list[bytes], ids: np.ndarray, cut: int,
                     share: float, statuses: list[bytes]) -> None:
    """Give the orders of about ``share`` of the lines another status (all their lines)."""
    if not cut:
        return
    picked = rng.choice(cut, size=max(1, round(cut * share)), replace=False)
    orders = {int(ids[i]) for i in picked if ids[i] >= 0}
    new_status = {o: statuses[int(rng.integers(len(statuses)))] for o in sorted(orders)}
    for i in np.flatnonzero(np.isin(ids[:cut], list(orders))):
        fields = records[i].split(b",")
        if len(fields) == _ORDER_FIELDS:
            fields[_ORDER_STATUS] = new_status[int(ids[i])]
            records[i] = b",".join(fields)


def _make_late(rng: np.random.Generator, records: list[bytes], cut: int, share: float) -> None:
    """Turn about ``share`` of the deliveries late: status, risk and one more shipping day."""
    if not cut:
        return
    for i in rng.choice(cut, size=max(1, round(cut * share)), replace=False):
        fields = records[i].split(b",")
        # only a clean on-time delivery (a defect of a dirty export stays as it is)
        if (len(fields) != _DELIVERY_FIELDS or fields[_DELIVERY_STATUS] == _LATE or fields[_LATE_RISK] != b"0"
                or not fields[_SHIPPING_DAYS].isdigit() or int(fields[_SHIPPING_DAYS]) > 7):
            continue
        fields[_DELIVERY_STATUS], fields[_LATE_RISK] = _LATE, b"1"
        fields[_SHIPPING_DAYS] = str(min(int(fields[_SHIPPING_DAYS]) + 1, 7)).encode()
        records[i] = b",".join(fields)


def _write_day_manifest(folder: Path, manifest: dict, last_lines: dict[str, int]) -> None:
    """The defects of the final export that this day's files hold."""
    defects = [d for d in manifest["defects"] if d["line"] <= last_lines.get(d["file"], d["line"])]
    (folder / MANIFEST_NAME).write_text(json.dumps({**manifest, "defects": defects}, indent=1) + "\n", "utf-8")
