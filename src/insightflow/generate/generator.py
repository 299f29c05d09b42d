"""``generate``: a synthetic export with the format and distributions of the DataCo reference.

The four files match the source contracts byte for byte in format (BOM, CRLF, no final newline,
M/d/yy dates, zip codes without leading zeros, the export's float noise and its rare broken
customers); their distributions come from ``params.json``. The same seed and arguments always give
byte-identical files. Orders are drawn and written in chunks, so memory stays flat at any scale.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from insightflow.contracts.sources import load_contracts
from insightflow.errors import UsageError
from insightflow.generate.calibration import Calibration, load_calibration
from insightflow.generate.csvtext import CsvFileWriter, join_records
from insightflow.generate.defects import (
    CUSTOMER_DEFECTS,
    DELIVERY_DEFECTS,
    ORDER_DEFECTS,
    PRODUCT_DEFECTS,
    DefectContext,
    DefectKind,
)
from insightflow.generate.entities import (
    Catalogue,
    Customers,
    OrderSampler,
    sample_catalogue,
    sample_customers,
)
from insightflow.generate.injection import DefectPlan, inject

#: Orders drawn and written at a time (about 490 K order lines, ~60 MB of text).
CHUNK_ORDERS = 200_000
MANIFEST_NAME = "manifest.json"
FILE_NAMES = {
    "customers": "CustomerDetails.csv",
    "products": "ProductDetails.csv",
    "orders": "OrderDetails.csv",
    "deliveries": "DeliveryDetails.csv",
}


@dataclass(frozen=True)
class GenerateResult:
    """What ``generate`` wrote: a path and a data-row count per source, and the manifest."""

    files: dict[str, Path]
    rows: dict[str, int]
    manifest: Path | None
    defects: int
    seconds: float


def generate(
    out: Path, scale: float = 1.0, seed: int = 42, dirty: float = 0.0, progress: bool = False
) -> GenerateResult:
    """Write CustomerDetails, ProductDetails, OrderDetails and DeliveryDetails CSVs into ``out``.

    Args:
        out: folder to write into (created if missing); existing files of the same names are
            replaced.
        scale: size relative to the reference export (1 ≈ 20.6 K customers, 65.7 K orders,
            160 K order lines); the catalogue keeps its 118 products at every scale.
        seed: seed of every random draw; the same arguments give byte-identical files.
        dirty: share of rows (0–1) that get a defect of a real export; the defects are listed
            with their line and expected reason in ``out/manifest.json``.
        progress: show a progress bar on stderr.
    """
    started = time.perf_counter()
    out = _checked_arguments(out, scale, seed, dirty)
    cal = load_calibration()
    customer_rng, catalogue_rng, order_rng, defect_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    customers = sample_customers(customer_rng, cal, max(1, round(cal.customers * scale)))
    catalogue = sample_catalogue(catalogue_rng, cal)
    sampler = OrderSampler(order_rng, cal, catalogue, customers)
    paths = {source: out / name for source, name in FILE_NAMES.items()}
    contracts = load_contracts()
    with ExitStack() as stack:
        writers = {s: CsvFileWriter(paths[s], contracts[s].headers) for s in FILE_NAMES}
        stack.callback(_abort_unfinished, writers)
        export = _Export(writers, defect_rng, dirty)
        bar = _progress_bar(progress)
        with bar if bar is not None else nullcontext():
            task = bar.add_task("customers", total=sampler.orders) if bar else None
            removed = export.customers(customers, _segments(cal))
            export.products(catalogue)
            for stop in export.orders(sampler, customers, catalogue, removed):
                if bar is not None:
                    bar.update(task, description="orders", completed=stop)
        rows = {source: writer.records for source, writer in writers.items()}
        for writer in writers.values():
            writer.close()

    manifest_path = out / MANIFEST_NAME
    if dirty:
        _write_manifest(manifest_path, seed, scale, dirty, export.entries)
    else:
        manifest_path.unlink(missing_ok=True)  # a stale one would describe other files
    return GenerateResult(
        files=paths,
        rows=rows,
        manifest=manifest_path if dirty else None,
        defects=len(export.entries),
        seconds=round(time.perf_counter() - started, 3),
    )


class _Export:
    """Writes the sources in dependency order, injecting defects at the dirty rate."""

    def __init__(self, writers: dict[str, CsvFileWriter], rng: np.random.Generator, dirty: float):
        self.writers, self.rng, self.dirty = writers, rng, dirty
        self.entries: list[dict] = []

    def _inject(
        self,
        source: str,
        records: pa.Array,
        columns: list[pa.Array],
        targets: np.ndarray,
        kinds: list[DefectKind],
        ctx: DefectContext,
    ) -> pa.Array:
        records, found = inject(
            self.rng, records, columns, targets, kinds, ctx, FILE_NAMES[source],
            self.writers[source].line,
        )  # fmt: skip
        self.entries += found
        return records

    def customers(self, customers: Customers, segments: tuple[str, ...]) -> np.ndarray:
        """Write the customers; which ones a defect removed (their orders become orphans)."""
        records = join_records(customers.columns)
        removed = np.zeros(len(customers.ids), dtype=bool)
        if self.dirty:
            # Any row but the export's own quirky ones.
            candidates = np.flatnonzero(~customers.quirky)
            plan = DefectPlan(FILE_NAMES["customers"], CUSTOMER_DEFECTS, self.dirty)
            kinds = plan.kinds_for(self.rng, len(records), len(candidates))
            targets = self.rng.choice(candidates, len(kinds), replace=False)
            removed[[t for t, k in zip(targets, kinds, strict=True) if k.removes_row]] = True
            ctx = DefectContext(self.writers["customers"].header, segments=segments)
            records = self._inject("customers", records, customers.columns, targets, kinds, ctx)
        self.writers["customers"].write(records)
        return removed

    def products(self, catalogue: Catalogue) -> None:
        records = join_records(catalogue.columns)
        if self.dirty:
            plan = DefectPlan(FILE_NAMES["products"], PRODUCT_DEFECTS, self.dirty)
            kinds = plan.kinds_for(self.rng, len(records), len(records))
            targets = self.rng.choice(len(records), len(kinds), replace=False)
            ctx = DefectContext(
                self.writers["products"].header, product_max_id=int(catalogue.ids.max())
            )
            records = self._inject("products", records, catalogue.columns, targets, kinds, ctx)
        self.writers["products"].write(records)

    def orders(
        self, sampler: OrderSampler, customers: Customers, catalogue: Catalogue, removed: np.ndarray
    ) -> Iterator[int]:
        """Write order lines and deliveries chunk by chunk; yields the orders written so far."""
        order_plan = DefectPlan(FILE_NAMES["orders"], ORDER_DEFECTS, self.dirty)
        delivery_plan = DefectPlan(FILE_NAMES["deliveries"], DELIVERY_DEFECTS, self.dirty)
        order_ctx = DefectContext(
            self.writers["orders"].header,
            customer_max_id=int(customers.ids.max()),
            product_max_id=int(catalogue.ids.max()),
        )
        delivery_ctx = DefectContext(self.writers["deliveries"].header, order_ids=sampler.order_ids)
        for start in range(0, sampler.orders, CHUNK_ORDERS):
            stop = min(start + CHUNK_ORDERS, sampler.orders)
            chunk = sampler.chunk(start, stop)
            lines = join_records(chunk.line_columns)
            deliveries = join_records(chunk.delivery_columns)
            if self.dirty:
                # One defect per order at most, and none on orders whose customer a defect
                # removed or whose lines carry one: cascades stay predictable.
                usable = ~removed[chunk.customer_index]
                kinds = order_plan.kinds_for(self.rng, len(lines), int(usable.sum()))
                orders = self.rng.choice(np.flatnonzero(usable), len(kinds), replace=False)
                targets = _one_line_of(self.rng, chunk.line_order, orders)
                lines = self._inject("orders", lines, chunk.line_columns, targets, kinds, order_ctx)
                usable[orders] = False
                kinds = delivery_plan.kinds_for(self.rng, len(deliveries), int(usable.sum()))
                targets = self.rng.choice(np.flatnonzero(usable), len(kinds), replace=False)
                deliveries = self._inject(
                    "deliveries", deliveries, chunk.delivery_columns, targets, kinds, delivery_ctx
                )
            self.writers["orders"].write(lines)
            self.writers["deliveries"].write(deliveries)
            yield stop


def _checked_arguments(out: Path, scale: float, seed: int, dirty: float) -> Path:
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise UsageError(f"scale must be a positive number, got {scale!r}")
    if isinstance(dirty, bool) or not isinstance(dirty, int | float) or not 0 <= dirty <= 1:
        raise UsageError(f"dirty must be a rate between 0 and 1, got {dirty!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise UsageError(
            f"cannot write to the output folder {out}: {error.strerror or error}"
        ) from None
    return out


def _segments(cal: Calibration) -> tuple[str, ...]:
    return tuple(sorted({segment for segment, _ in cal.segment_country.values}))


def _one_line_of(
    rng: np.random.Generator, line_order: np.ndarray, orders: np.ndarray
) -> np.ndarray:
    """A random line of each of ``orders`` (indices in the chunk; lines are grouped by order)."""
    first = np.searchsorted(line_order, orders, side="left")
    count = np.searchsorted(line_order, orders, side="right") - first
    return first + (rng.random(len(orders)) * count).astype(np.int64)


def _write_manifest(path: Path, seed: int, scale: float, dirty: float, entries: list[dict]) -> None:
    rank = {name: i for i, name in enumerate(FILE_NAMES.values())}
    entries.sort(key=lambda e: (rank[e["file"]], e["line"]))
    document = {"seed": seed, "scale": scale, "dirty": dirty, "defects": entries}
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _progress_bar(enabled: bool):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("generating {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _abort_unfinished(writers: dict[str, CsvFileWriter]) -> None:
    for writer in writers.values():
        writer.abort()
