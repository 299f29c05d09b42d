"""Ingest (the raw zone): land each accepted file, type it by its contract, append it to ``raw.*``.

Every file is copied to ``landing/<sha256>.csv`` (immutable) and parsed from that copy, so a file
that changes while it is read cannot tear a load. A file whose content is already in its raw table
is skipped. Every record of a file becomes one raw row — values that do not parse stay in the
``_invalid`` column as their original text, and a record with the wrong number of fields keeps its
text there too — so that the models can quarantine them with a reason and nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from insightflow.contracts import ColumnContract, SourceContract
from insightflow.crawl import FileReport
from insightflow.errors import SourceError
from insightflow.faults import checkpoint
from insightflow.lake import LakeCatalog
from insightflow.quoting import ident as _ident
from insightflow.quoting import literal as _literal_sql

PARQUET_COMPRESSION = "zstd"
_PARQUET = f"(FORMAT parquet, COMPRESSION {PARQUET_COMPRESSION})"


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


@dataclass
class IngestResult:
    loads: list[LoadResult] = field(default_factory=list)

    @property
    def loaded(self) -> list[LoadResult]:
        return [load for load in self.loads if load.status == "loaded"]


@dataclass
class _Malformed:
    line: int | None
    text: str
    expected: int
    actual: int


def ingest(catalog: LakeCatalog, files: list[FileReport]) -> IngestResult:
    """Load every accepted file of a crawl into its raw table, one Iceberg append per file."""
    result = IngestResult()
    known: dict[str, set[str]] = {}
    for report in files:
        assert report.contract is not None and report.sniffed is not None
        contract = report.contract
        if contract.table not in known:
            known[contract.table] = _ingested_hashes(catalog, contract.table)
        landed = land(catalog, report.path, report.sniffed.quote)
        if landed.sha256 in known[contract.table]:
            result.loads.append(
                LoadResult(report.path.name, contract.source, contract.table, landed.sha256, "skipped")
            )
            continue
        load = load_file(catalog, report, landed)
        known[contract.table].add(landed.sha256)
        result.loads.append(load)
    return result


@dataclass(frozen=True)
class Landed:
    """A file copied into the landing zone."""

    path: Path
    sha256: str
    quoted: bool  # whether it holds the quote character at all


def land(catalog: LakeCatalog, path: Path, quote: str = '"') -> Landed:
    """Copy ``path`` into the landing zone under its content hash (one read of the file)."""
    landing = catalog.layout.landing
    temporary = landing / f".{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    quote_byte, quoted = quote.encode("utf-8"), False
    try:
        with path.open("rb") as source, temporary.open("wb") as target:
            while chunk := source.read(1 << 22):
                digest.update(chunk)
                quoted = quoted or quote_byte in chunk
                target.write(chunk)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise SourceError(path, f"cannot be copied to the landing zone ({error.strerror})") from None
    sha256 = digest.hexdigest()
    landed = landing / f"{sha256}.csv"
    if landed.exists():
        temporary.unlink()
    else:
        os.replace(temporary, landed)
        landed.chmod(0o444)
    return Landed(landed, sha256, quoted)


def load_file(catalog: LakeCatalog, report: FileReport, landed: Landed) -> LoadResult:
    """Type one landed file by its contract and append it to its raw table."""
    contract, sniffed, sha256 = report.contract, report.sniffed, landed.sha256
    assert contract is not None and sniffed is not None
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    load_id = f"{ingested_at:%Y%m%dT%H%M%S%f}-{sha256[:8]}"
    staging = catalog.layout.staging / f"ingest-{load_id}"
    staging.mkdir(parents=True, exist_ok=True)
    lineage = {
        "_load_id": load_id,
        "_source_file": report.path.name,
        "_source_sha256": sha256,
        "_ingested_at": ingested_at,
    }
    staged, rows, invalid = _write_typed(landed, report, contract, lineage, staging)
    checkpoint(f"ingest:{contract.table}")
    snapshot_id = catalog.commit(
        contract.table,
        staged,
        overwrite=False,
        properties={
            "insightflow.load-id": load_id,
            "insightflow.source-file": report.path.name,
            "insightflow.sha256": sha256,
            "insightflow.rows": str(rows),
        },
    )
    shutil.rmtree(staging, ignore_errors=True)
    return LoadResult(
        report.path.name, contract.source, contract.table, sha256, "loaded", rows, invalid, load_id, snapshot_id
    )


def _write_typed(
    landed: Landed, report: FileReport, contract: SourceContract, lineage: dict, staging: Path
) -> tuple[list[Path], int, int]:
    """Parse a landed file into typed raw rows in ``staging``; returns (files, rows, invalid rows).

    Records are streamed in file order straight into Parquet. Records with the wrong number of fields
    go to a second file; their line numbers are known only when parsing single-threaded, so a file
    that has any is parsed again that way (rare). A record longer than the parser's block (a 10 MB
    field) makes it parse again with larger blocks.
    """
    sniffed = report.sniffed
    assert sniffed is not None
    columns = [f"c{i}" for i in range(len(sniffed.header))]
    schema = pa.schema([(c, pa.string()) for c in columns] + [("_source_line", pa.int64())])
    select = _typed_select(sniffed.header, columns, contract, lineage)
    valid_file, malformed_file = staging / "part-00000.parquet", staging / "part-00001.parquet"
    parse = _Parse(sniffed.delimiter, sniffed.quote, columns, landed.quoted)
    while True:
        malformed: list[_Malformed] = []
        failures: list[Exception] = []
        batches = _read_batches(landed.path, parse, malformed, failures)
        with duckdb.connect() as con:
            con.register("valid_records", pa.RecordBatchReader.from_batches(schema, batches))
            try:
                con.execute(f"COPY ({select}) TO {_literal_sql(str(valid_file))} {_PARQUET}")
            except (duckdb.Error, pa.ArrowInvalid) as error:
                cause = failures[0] if failures else error
                if "straddl" in str(cause) and parse.block_size < 2 * sniffed.size:
                    parse.block_size *= 8
                    continue
                raise _parse_error(report.path, cause) from None
            if any(m.line is None for m in malformed):
                parse.use_threads = False
                continue
            rows, invalid = con.execute(
                "SELECT count(*), count(_invalid) FROM read_parquet(?)", [str(valid_file)]
            ).fetchall()[0]
            if not malformed:
                return [valid_file], rows, invalid
            con.register("malformed_records", _malformed_table(malformed))
            con.execute(
                f"COPY ({_malformed_select(contract, lineage)}) TO {_literal_sql(str(malformed_file))} {_PARQUET}"
            )
            return [valid_file, malformed_file], rows + len(malformed), invalid + len(malformed)


@dataclass
class _Parse:
    """How to parse one file (and how the next attempt differs)."""

    delimiter: str
    quote: str
    columns: list[str]
    # Without a quote character no value can hold a newline, and the parser may split the file
    # at any newline (in parallel) instead of tracking quotes serially.
    quoted: bool
    use_threads: bool = True
    block_size: int = 1 << 22


def _read_batches(
    path: Path, parse: _Parse, malformed: list[_Malformed], failures: list[Exception]
) -> Iterator[pa.RecordBatch]:
    """Record batches of the file as text, with each record's line number (header = line 1).

    Records with the wrong number of fields are skipped into ``malformed``; a parse error is kept
    in ``failures`` (DuckDB, which pulls the batches, reports it wrapped in its own message).
    """

    def refuse(row: pacsv.InvalidRow) -> str:
        malformed.append(_Malformed(row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=parse.use_threads, skip_rows=1, column_names=parse.columns, block_size=parse.block_size
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=parse.delimiter,
                quote_char=parse.quote,
                newlines_in_values=parse.quoted,
                invalid_row_handler=refuse,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in parse.columns}, strings_can_be_null=False
            ),
        )
        ordinal = 0
        for batch in reader:
            lines = np.arange(ordinal, ordinal + batch.num_rows, dtype=np.int64)
            ordinal += batch.num_rows
            known = [m.line for m in malformed if m.line is not None]
            if known:
                # The j-th valid record sits after every malformed line L_i with L_i - 2 - i <= j.
                skipped = np.asarray(sorted(known), dtype=np.int64) - 2 - np.arange(len(known))
                lines = lines + np.searchsorted(skipped, lines, side="right")
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(lines + 2)], names=[*parse.columns, "_source_line"]
            )
    except (pa.ArrowInvalid, OSError) as error:
        failures.append(error)
        raise


def _typed_select(header: list[str], columns: list[str], contract: SourceContract, lineage: dict) -> str:
    """SELECT that casts each contract column, keeps extra columns as text and adds lineage.

    Each value is cast once, in an inner query; the outer one names the values that failed
    (non-blank text whose cast gave NULL) in ``_invalid``, whose JSON is built only for such rows.
    """
    by_header = {h.strip().upper(): c for h, c in zip(header, columns, strict=True)}
    inner = [_ident(c) for c in columns] + ["_source_line"]
    outer: list[str] = []
    failed: list[tuple[str, str]] = []  # (condition, json member) per castable column
    for column in contract.columns:
        raw_name = by_header.get(column.source.upper())
        if raw_name is None:
            outer.append(f"CAST(NULL AS {column.type}) AS {_ident(column.name)}")
            continue
        raw, typed = _ident(raw_name), _ident(f"typed_{raw_name}")
        inner.append(f"{_cast(raw, column)} AS {typed}")
        outer.append(f"{typed} AS {_ident(column.name)}")
        if column.type != "VARCHAR":
            key = _literal_sql(json.dumps(column.name) + ":")
            condition = f"({typed} IS NULL AND TRIM({raw}) <> '')"
            failed.append((condition, f"CASE WHEN {condition} THEN {key} || to_json({raw}) END"))
    known = {c.source.upper() for c in contract.columns}
    for h, c in zip(header, columns, strict=True):
        if h.strip().upper() not in known:
            outer.append(f"{_ident(c)} AS {_ident(_snake(h))}")
    outer += _lineage_projections(lineage)
    outer.append("_source_line")
    if failed:
        any_failed = " OR ".join(condition for condition, _ in failed)
        members = ", ".join(member for _, member in failed)
        outer.append(f"CASE WHEN {any_failed} THEN '{{' || concat_ws(',', {members}) || '}}' END AS _invalid")
    else:
        outer.append("CAST(NULL AS VARCHAR) AS _invalid")
    return (
        "SELECT " + ",\n  ".join(outer)
        + "\nFROM (SELECT " + ", ".join(inner) + " FROM valid_records) AS typed"
    )


def _cast(raw: str, column: ColumnContract) -> str:
    """Text -> contract type; NULL when blank or unparseable (DuckDB's casts ignore padding)."""
    if column.type == "VARCHAR":
        return f"NULLIF({raw}, '')"
    if column.type == "DATE":
        return f"CAST(try_strptime(TRIM({raw}), {_literal_sql(column.format or '%Y-%m-%d')}) AS DATE)"
    return f"TRY_CAST({raw} AS {column.type})"


def _malformed_table(malformed: list[_Malformed]) -> pa.Table:
    return pa.table(
        {
            "_source_line": pa.array([m.line for m in malformed], pa.int64()),
            "_invalid": pa.array(
                [
                    json.dumps({"_record": m.text, "_problem": f"{m.actual} fields, expected {m.expected}"})
                    for m in malformed
                ],
                pa.string(),
            ),
        }
    )


def _malformed_select(contract: SourceContract, lineage: dict) -> str:
    """Malformed records as raw rows: every contract column NULL, the record text in ``_invalid``."""
    projections = [f"CAST(NULL AS {c.type}) AS {_ident(c.name)}" for c in contract.columns]
    projections += _lineage_projections(lineage)
    projections += ["_source_line", "_invalid"]
    return "SELECT " + ", ".join(projections) + " FROM malformed_records"


def _lineage_projections(lineage: dict) -> list[str]:
    projections = []
    for name, value in lineage.items():
        if isinstance(value, datetime):
            projections.append(f"CAST({_literal_sql(value.isoformat(sep=' '))} AS TIMESTAMP) AS {_ident(name)}")
        else:
            projections.append(f"{_literal_sql(str(value))} AS {_ident(name)}")
    return projections


def _ingested_hashes(catalog: LakeCatalog, table: str) -> set[str]:
    if not catalog.exists(table):
        return set()
    files = catalog.resolve(table).files
    if not files:
        return set()
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT _source_sha256 FROM read_parquet(?)", [list(files)]
        ).fetchall()
    return {r[0] for r in rows}


def _snake(header: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in header.strip().lower()).strip("_")
    return cleaned or "unnamed"




def _parse_error(path: Path, error: Exception) -> SourceError:
    message = str(error).strip().splitlines()[0]
    if "UTF8" in message or "UTF-8" in message or "utf-8" in message:
        return SourceError(path, f"contains bytes that are not UTF-8 {_first_bad_byte(path)}; export it as UTF-8")
    return SourceError(path, f"cannot be parsed as CSV ({message})")


def _first_bad_byte(path: Path) -> str:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return f"(byte 0x{data[error.start]:02x} on line {line})"
    return ""
