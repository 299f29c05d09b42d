"""Ingest (the raw zone): land each accepted file, type it by its contract, append it to ``raw.*``.

Every file is copied to ``landing/<sha256>.csv`` (immutable) and parsed from that copy, so a file
that changes while it is read cannot tear a load. A file whose content is already in its raw table
is skipped. Every record of a file becomes one raw row — values that do not parse stay in the
``_invalid`` column as their original text, and a record with the wrong number of fields keeps its
text there too — so that the models can quarantine them with a reason and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from insightflow.crawl import FileReport
from insightflow.faults import checkpoint
from insightflow.ingest.landing import Landed, land
from insightflow.ingest.parse import write_typed
from insightflow.lake import LakeCatalog


@dataclass
class LoadResult:
    """What ingest did with one file."""

    file: str
    source: str
    table: str
    sha256: str
    status: str  # "loaded" | "skipped"
    rows: int = 0
    invalid_rows: int = 0
    load_id: str | None = None
    snapshot_id: int | None = None
    records: int = 0  # records in the file (lines after its header)


@dataclass
class IngestResult:
    loads: list[LoadResult] = field(default_factory=list)

    @property
    def loaded(self) -> list[LoadResult]:
        return [load for load in self.loads if load.status == "loaded"]


def ingest(catalog: LakeCatalog, files: list[FileReport], *, memory_limit: str | None = None) -> IngestResult:
    """Load every accepted file of a crawl into its raw table, one Iceberg append per file.

    Files are parsed into staging first and committed after, so that the catalog (slow to import
    and open) is needed only at the end: it opens in the background meanwhile. A file landed
    before may hold content already ingested: that is asked of the catalog after the new files are
    parsed (each file's load id is taken in file order all the same). ``memory_limit`` bounds the
    parser (DuckDB), which spills beyond it.
    """
    result: list[tuple[int, LoadResult]] = []
    known: dict[str, set[str]] = {}

    def ingested(table: str, sha256: str) -> bool:
        if table not in known:
            known[table] = _ingested_hashes(catalog, table)
        return sha256 in known[table]

    catalog.open_in_background()
    staged: list[tuple[int, _StagedLoad]] = []
    deferred: list[tuple[int, FileReport, Landed, datetime]] = []
    seen: set[tuple[str, str]] = set()
    with closing(_landed_one_ahead(catalog, files)) as landed_files:
        for index, (report, landed) in enumerate(landed_files):
            assert report.contract is not None
            ingested_at = datetime.now(UTC).replace(tzinfo=None)
            if (report.contract.table, landed.sha256) in seen:  # the same content twice in one batch
                result.append((index, _skipped(report, landed)))
                continue
            seen.add((report.contract.table, landed.sha256))
            if landed.new:
                staged.append((index, _stage(catalog, report, landed, ingested_at, memory_limit)))
            else:
                deferred.append((index, report, landed, ingested_at))
    for index, report, landed, ingested_at in deferred:
        assert report.contract is not None
        if ingested(report.contract.table, landed.sha256):
            result.append((index, _skipped(report, landed)))
        else:
            staged.append((index, _stage(catalog, report, landed, ingested_at, memory_limit)))
    # One table's loads are appended in file order; different tables' may be committed at once.
    by_table: dict[str, list[tuple[int, _StagedLoad]]] = {}
    for index, load in sorted(staged, key=lambda s: s[0]):
        assert load.report.contract is not None
        if ingested(load.report.contract.table, load.landed.sha256):  # a landing copy was lost
            catalog.storage.delete_tree(load.folder)
            result.append((index, _skipped(load.report, load.landed)))
            continue
        by_table.setdefault(load.report.contract.table, []).append((index, load))

    def commit_table(loads: list[tuple[int, _StagedLoad]]) -> list[tuple[int, LoadResult]]:
        committed, batch, hashes = [], [], set()
        for index, load in loads:
            if load.landed.sha256 in hashes:  # the same content twice
                committed.append((index, _skipped(load.report, load.landed)))
                continue
            hashes.add(load.landed.sha256)
            batch.append((index, load))
        return committed + _commit(catalog, batch)

    for committed in catalog.concurrently(commit_table, list(by_table.values())):
        result += committed
    return IngestResult([load for _, load in sorted(result, key=lambda r: r[0])])


def _landed_one_ahead(catalog: LakeCatalog, files: list[FileReport]) -> Iterator[tuple[FileReport, Landed]]:
    """Each file with its landing copy, in order; the next file is landed while this one is parsed.

    Landing (hash, UTF-8 check, copy) is Python work and parsing is DuckDB's, which releases the
    GIL, so the two overlap. A file's landing error is raised when that file's turn comes, as if
    the files were landed one by one.
    """

    def land_file(report: FileReport) -> Landed:
        assert report.sniffed is not None
        sniffed = report.sniffed
        return land(catalog.storage, report.path, sniffed.quote, sniffed.encoding, detected=not sniffed.encoding_given)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="insightflow-land") as pool:
        upcoming = [pool.submit(land_file, files[0])] if files else []
        try:
            for index, report in enumerate(files):
                landed = upcoming.pop().result()
                if index + 1 < len(files):
                    upcoming.append(pool.submit(land_file, files[index + 1]))
                yield report, landed
        finally:
            for future in upcoming:  # a failed parse: the next landing is finished, not torn
                future.cancel()


def _skipped(report: FileReport, landed: Landed) -> LoadResult:
    assert report.contract is not None
    return LoadResult(report.path.name, report.contract.source, report.contract.table, landed.sha256, "skipped",
                      records=landed.records)


@dataclass
class _StagedLoad:
    """A parsed file waiting in staging for its commit."""

    report: FileReport
    landed: Landed
    load_id: str
    folder: str
    files: list[str]
    rows: int
    invalid: int


def _stage(catalog: LakeCatalog, report: FileReport, landed: Landed, ingested_at: datetime,
           memory_limit: str | None) -> _StagedLoad:
    """Type one landed file by its contract into Parquet in staging."""
    contract = report.contract
    assert contract is not None
    load_id = f"{ingested_at:%Y%m%dT%H%M%S%f}-{landed.sha256[:8]}"
    folder = f"{catalog.storage.staging}/ingest-{load_id}"
    catalog.storage.makedirs(folder)
    lineage = {
        "_load_id": load_id,
        "_source_file": report.path.name,
        "_source_sha256": landed.sha256,
        "_ingested_at": ingested_at,
    }
    assert report.sniffed is not None
    typed = write_typed(landed, report.sniffed, contract, lineage, folder, storage=catalog.storage,
                        spill=catalog.layout.tmp / f"ingest-{load_id}", memory_limit=memory_limit)
    return _StagedLoad(report, landed, load_id, folder, typed.files, typed.rows, typed.invalid_rows)


def _commit(catalog: LakeCatalog, loads: list[tuple[int, _StagedLoad]]) -> list[tuple[int, LoadResult]]:
    """Append one table's staged loads to it as one Iceberg snapshot (500 one-row files are one
    commit, not 500), their load ids in its summary; each load keeps its own ``_load_id`` rows."""
    if not loads:
        return []
    contract = loads[0][1].report.contract
    assert contract is not None
    checkpoint(f"ingest:{contract.table}")
    ids = [load.load_id for _, load in loads]
    snapshot_id = catalog.commit(
        contract.table,
        [f for _, load in loads for f in load.files],
        overwrite=False,
        properties={
            "insightflow.loads": str(len(loads)),
            "insightflow.load-ids": ",".join(ids[:50]) + (f",… ({len(ids) - 50} more)" if len(ids) > 50 else ""),
            "insightflow.rows": str(sum(load.rows for _, load in loads)),
        },
    )
    results = []
    for index, load in loads:
        catalog.storage.delete_tree(load.folder)
        results.append((index, LoadResult(
            load.report.path.name, contract.source, contract.table, load.landed.sha256, "loaded",
            load.rows, load.invalid, load.load_id, snapshot_id, load.landed.records,
        )))
    return results


def _ingested_hashes(catalog: LakeCatalog, table: str) -> set[str]:
    """The content hashes of every load in ``table``.

    A load's files hold one hash in ``_source_sha256``: the Parquet footers' statistics say it
    without reading the data (a file whose statistics do not, is read).
    """
    if not catalog.exists(table):
        return set()
    hashes, unread = set(), []
    for path in catalog.resolve(table).files:
        metadata = catalog.parquet_metadata(path)
        column = metadata.schema.names.index("_source_sha256") if "_source_sha256" in metadata.schema.names else -1
        stats = [metadata.row_group(i).column(column).statistics for i in range(metadata.num_row_groups)] \
            if column >= 0 else []
        values = {(s.min, s.max) for s in stats if s is not None and s.has_min_max}
        if len(values) == 1 and len(stats) == metadata.num_row_groups and (pair := values.pop())[0] == pair[1]:
            hashes.add(pair[0])
        elif metadata.num_rows:
            unread.append(path)
    if unread:
        rows = pa.concat_tables([catalog.read_parquet(path).select(["_source_sha256"]) for path in unread])
        hashes |= set(rows.column(0).unique().to_pylist())
    return hashes
