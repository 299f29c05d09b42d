"""Parse a landed CSV into typed raw rows: DuckDB's CSV reader types what it can, nothing is lost.

The reader types each column by its contract in one parallel pass and numbers the records. What it
refuses — a value that does not parse, a record with the wrong number of fields — it lists in a
rejects table with the record's line and text. Those records are parsed again here: a value the
strict reader refused but a lenient cast accepts is kept, a value that does not parse stays as its
original text in ``_invalid``, and a record with the wrong number of fields is kept whole in
``_invalid`` too, so that the models quarantine it with its line and a reason.

``_source_line`` is the record's line in the file, the header being line 1 (for a file whose values
hold line breaks it counts records, not physical lines).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from insightflow.contracts import ColumnContract, SourceContract
from insightflow.crawl import SniffedFile
from insightflow.errors import SourceError, one_line
from insightflow.ingest.landing import Landed
from insightflow.lake.storage import LakeStorage, connect_storage
from insightflow.quoting import ident, literal

PARQUET = "(FORMAT parquet, COMPRESSION zstd)"
#: Longest record the fast reader takes (a longer one is re-parsed as a refused record). The
#: reader's buffer is set to the same size: by default it is 16 times as large, and with so few
#: buffers in a file DuckDB parses it on fewer threads (the 10x copy's orders: 1.7 s -> 0.9 s).
MAX_LINE_BYTES = 1 << 25
_STRUCTURAL = {"MISSING COLUMNS", "TOO MANY COLUMNS", "UNQUOTED VALUE", "LINE SIZE OVER MAXIMUM"}


@dataclass
class TypedFile:
    """A file parsed into staged Parquet."""

    files: list[str]
    rows: int
    invalid_rows: int


def write_typed(
    landed: Landed, sniffed: SniffedFile, contract: SourceContract, lineage: dict, staging: str,
    *, storage: LakeStorage, spill: Path, memory_limit: str | None = None,
) -> TypedFile:
    """Type every record of ``landed`` by ``contract`` into Parquet files in ``staging``.

    ``storage`` holds both (read and written through its filesystem when it is an object store);
    ``spill`` is a local folder for what does not fit in ``memory_limit``. ``sniffed.path`` (the
    user's file) is the one named in errors, not its landing copy.
    """
    columns = [f"c{i}" for i in range(len(sniffed.header))]
    matched = _match(sniffed.header, columns, contract)
    valid_file = f"{staging}/part-00000.parquet"
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = {literal(str(spill))}")
        if memory_limit:
            con.execute(f"SET memory_limit = {literal(memory_limit)}")
        if storage.remote:
            connect_storage(con, storage)
        projections = _projections(sniffed.header, columns, matched, contract, typed=True)
        # A local lake parses the landing copy (the bytes that were hashed). A lake on an object
        # store parses the local file instead of reading its copy back through the store, having
        # checked (and checking again after) that it has not changed since it was landed.
        before = landed.source_stat if storage.remote and _stat(sniffed.path) == landed.source_stat else None
        source = str(sniffed.path) if before else landed.path
        if not landed.utf8:  # DuckDB reads UTF-8: the parser reads a transcoding (same lines)
            source = _transcoded(storage, source, landed.encoding, spill / f"utf8-{landed.sha256[:16]}.csv")
        for attempt in ("as landed", "with its line ends made uniform"):
            reader = _reader_sql(source, sniffed, columns, matched, contract)
            try:
                # The records go to a table in file order first: a table's rowid numbers them in
                # parallel, where row_number() OVER () would be a single-threaded streaming window.
                con.execute("SET preserve_insertion_order = true")  # record numbers follow the file
                con.execute(f"CREATE OR REPLACE TEMP TABLE records AS SELECT * FROM {reader}")
                # Numbered: the rows may now be written in any order (faster, on every thread).
                con.execute("SET preserve_insertion_order = false")
                con.execute(
                    f"COPY (SELECT {', '.join(projections + _lineage(lineage))}, rowid + 2 AS _source_line, "
                    f"{_invalid_json(_nul_checks(matched))} AS _invalid FROM records) "
                    f"TO {literal(str(valid_file))} {PARQUET}"
                )
                con.execute("DROP TABLE records")
                break
            except duckdb.Error as error:
                # DuckDB's strict reader (which refuses a record with extra fields rather than
                # dropping them) cannot read a file mixing LF, CRLF and CR line ends.
                if attempt != "as landed":
                    raise SourceError(sniffed.path, f"cannot be parsed as CSV ({one_line(error)})") from None
                source = _uniform_line_ends(storage, source, spill / "uniform.csv")
        if before and _stat(sniffed.path) != before:
            raise SourceError(sniffed.path, "changed while it was being loaded; nothing of it was loaded, run again")
        refused = con.execute(
            "SELECT line, list(DISTINCT CAST(error_type AS VARCHAR)), any_value(csv_line) "
            "FROM rejected GROUP BY line ORDER BY line"
        ).fetchall()
        valid = con.execute("SELECT count(*) FROM read_parquet(?)", [str(valid_file)]).fetchall()[0][0]
        if not refused:
            return TypedFile([valid_file], valid, 0)
        files = [_renumber(con, storage, valid_file, [line for line, _, _ in refused])]
        files.append(f"{staging}/part-00001.parquet")
        invalid = _write_refused(con, refused, sniffed, columns, contract, lineage, files[1])
        return TypedFile(files, valid + len(refused), invalid)


def _stat(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _open(storage: LakeStorage, path: str, mode: str = "rb"):  # noqa: ANN202 - a binary file
    """A file of the lake's storage, or a local one (the user's file, a transcoding in ``tmp/``)."""
    return open(path, mode) if not storage.remote or Path(path).exists() else storage.open(path, mode)  # noqa: SIM115


def _transcoded(storage: LakeStorage, path: str, encoding: str, target: Path) -> str:
    """A local UTF-8 copy of ``path``, read in ``encoding`` (its byte-order mark dropped)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    decoder = codecs.getincrementaldecoder(encoding)()
    with _open(storage, path) as source, target.open("wb") as out:
        while chunk := source.read(1 << 22):
            out.write(decoder.decode(chunk).encode("utf-8"))
        out.write(decoder.decode(b"", final=True).encode("utf-8"))
    return str(target)


def _uniform_line_ends(storage: LakeStorage, path: str, target: Path) -> str:
    """A (local) copy of ``path`` whose CRLF and lone CR line ends are LF (line numbers unchanged)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _open(storage, path) as source, target.open("wb") as out:
        pending = b""
        while chunk := source.read(1 << 22):
            chunk = pending + chunk
            pending = b"\r" if chunk.endswith(b"\r") else b""
            chunk = chunk[:-1] if pending else chunk
            out.write(chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        out.write(pending.replace(b"\r", b"\n"))
    return str(target)


def _match(header: list[str], columns: list[str], contract: SourceContract) -> dict[str, ColumnContract]:
    """Positional column -> its contract column (columns without one are extra, kept as text)."""
    matched = {}
    for name, column in zip(header, columns, strict=True):
        spec = contract.column(name)
        if spec is not None:
            matched[column] = spec
    return matched


def _reader_sql(
    path: str, sniffed: SniffedFile, columns: list[str], matched: dict[str, ColumnContract],
    contract: SourceContract,
) -> str:
    date_formats = [c.format for c in contract.columns if c.type == "DATE" and c.format]
    date_format = date_formats[0] if date_formats else "%Y-%m-%d"
    types = ", ".join(
        f"{literal(c)}: {literal(_reader_type(matched.get(c), date_format))}" for c in columns
    )
    return (
        f"read_csv({literal(str(path))}, header = true, auto_detect = false, columns = {{{types}}}, "
        f"delim = {literal(sniffed.delimiter)}, quote = {literal(sniffed.quote)}, "
        f"escape = {literal(sniffed.quote)}, dateformat = {literal(date_format)}, "
        f"store_rejects = true, rejects_table = 'rejected', rejects_scan = 'rejected_scans', "
        f"max_line_size = {MAX_LINE_BYTES}, buffer_size = {MAX_LINE_BYTES})"
    )


def _reader_type(spec: ColumnContract | None, date_format: str) -> str:
    if spec is None:
        return "VARCHAR"
    if spec.type == "DATE" and spec.format not in (None, date_format):
        raise ValueError("sources.yaml: one date format per source file")
    return spec.type


def _projections(
    header: list[str], columns: list[str], matched: dict[str, ColumnContract], contract: SourceContract,
    *, typed: bool,
) -> list[str]:
    """Contract columns under their raw names (NULL when absent), then extra columns as text
    (none when the contract's drift policy drops them)."""
    by_spec = {spec.name: column for column, spec in matched.items()}
    projections = []
    for spec in contract.columns:
        column = by_spec.get(spec.name)
        if column is None:
            projections.append(f"CAST(NULL AS {spec.type}) AS {ident(spec.name)}")
        elif typed:  # typed by the reader already
            projections.append(f"{ident(column)} AS {ident(spec.name)}")
        else:
            projections.append(f"{lenient_cast(ident(column), spec)} AS {ident(spec.name)}")
    for name, column in zip(header, columns, strict=True):
        if column not in matched and contract.drift.extra_columns != "drop":
            projections.append(f"{ident(column)} AS {ident(snake(name))}")
    return projections


def lenient_cast(raw: str, spec: ColumnContract) -> str:
    """Text -> contract type; NULL when blank or unparseable (DuckDB's casts ignore padding)."""
    if spec.type == "VARCHAR":
        return f"NULLIF({raw}, '')"
    if spec.type == "DATE":
        return f"CAST(try_strptime(TRIM({raw}), {literal(spec.format or '%Y-%m-%d')}) AS DATE)"
    return f"TRY_CAST({raw} AS {spec.type})"


def _nul_checks(matched: dict[str, ColumnContract]) -> list[tuple[str, str]]:
    """(condition, JSON member) per text column: a NUL byte in a value makes the value invalid (the
    row is quarantined as ``invalid_value`` with it), rather than being stored as it is."""
    return [(f"contains({ident(column)}, chr(0))", f"{literal(json.dumps(spec.name) + ':')} || to_json({ident(column)})")
            for column, spec in matched.items() if spec.type == "VARCHAR"]


def _invalid_json(failed: list[tuple[str, str]]) -> str:
    """The ``_invalid`` value: a JSON object of the values that ``failed`` (NULL when none did)."""
    if not failed:
        return "CAST(NULL AS VARCHAR)"
    members = ", ".join(f"CASE WHEN {c} THEN {m} END" for c, m in failed)
    return f"CASE WHEN {' OR '.join(c for c, _ in failed)} THEN '{{' || concat_ws(',', {members}) || '}}' END"


def _renumber(con: duckdb.DuckDBPyConnection, storage: LakeStorage, valid_file: str, refused_lines: list[int]) -> str:
    """Give the valid records their true lines, now that the refused lines between them are known.

    The j-th valid record (0-based) sits after every refused line L_i with L_i - 2 - i <= j.
    """
    skipped_by_threshold: dict[int, int] = {}
    for i, line in enumerate(refused_lines):  # equal thresholds: the last counts them all
        skipped_by_threshold[line - 2 - i] = i + 1
    thresholds = pa.table({
        "threshold": list(skipped_by_threshold), "skipped": list(skipped_by_threshold.values()),
    })
    con.register("refused_thresholds", thresholds)
    target = valid_file.replace("part-00000.parquet", "part-00000-lines.parquet")
    con.execute(
        f"COPY (SELECT v.* REPLACE (v._source_line + coalesce(t.skipped, 0) AS _source_line) "
        f"FROM read_parquet({literal(str(valid_file))}) AS v "
        f"ASOF LEFT JOIN refused_thresholds AS t ON v._source_line - 2 >= t.threshold) "
        f"TO {literal(str(target))} {PARQUET}"
    )
    storage.delete(valid_file)
    return target


def _write_refused(
    con: duckdb.DuckDBPyConnection, refused: list[tuple], sniffed: SniffedFile, columns: list[str],
    contract: SourceContract, lineage: dict, target: str,
) -> int:
    """Parse the refused records again, leniently; returns how many stay invalid."""
    matched = _match(sniffed.header, columns, contract)
    rows: dict[str, list] = {c: [] for c in columns} | {"_source_line": [], "_malformed": []}
    for line, error_types, text in refused:
        text = (text or "").strip("\r\n")
        records = csv.reader(io.StringIO(text, newline=""), delimiter=sniffed.delimiter, quotechar=sniffed.quote)
        try:
            fields = next(records, [])
        except csv.Error:
            fields = []
        structural = bool(_STRUCTURAL & set(error_types)) or len(fields) != len(columns)
        for i, column in enumerate(columns):
            rows[column].append(None if structural else fields[i])
        rows["_source_line"].append(line)
        rows["_malformed"].append(
            json.dumps({"_record": text, "_problem": f"{len(fields)} fields, expected {len(columns)}"})
            if structural else None
        )
    con.register("refused_records", pa.table(rows, schema=pa.schema(
        [(c, pa.string()) for c in columns] + [("_source_line", pa.int64()), ("_malformed", pa.string())]
    )))
    projections = _projections(sniffed.header, columns, matched, contract, typed=False)
    failed = []
    for column, spec in matched.items():
        if spec.type != "VARCHAR":
            condition = f"({lenient_cast(ident(column), spec)} IS NULL AND TRIM({ident(column)}) <> '')"
            member = f"{literal(json.dumps(spec.name) + ':')} || to_json({ident(column)})"
            failed.append((condition, member))
    invalid = _invalid_json(failed + _nul_checks(matched))
    con.execute(
        f"COPY (SELECT {', '.join(projections + _lineage(lineage))}, _source_line, "
        f"coalesce(_malformed, {invalid}) AS _invalid FROM refused_records) TO {literal(str(target))} {PARQUET}"
    )
    return con.execute("SELECT count(*) FROM read_parquet(?) WHERE _invalid IS NOT NULL",
                       [str(target)]).fetchall()[0][0]


def _lineage(lineage: dict) -> list[str]:
    projections = []
    for name, value in lineage.items():
        if isinstance(value, datetime):
            projections.append(f"CAST({literal(value.isoformat(sep=' '))} AS TIMESTAMP) AS {ident(name)}")
        else:
            projections.append(f"{literal(str(value))} AS {ident(name)}")
    return projections


def snake(header: str) -> str:
    """A header as a column name: ``Loyalty Tier`` -> ``loyalty_tier``."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in header.strip().lower()).strip("_")
    return cleaned or "unnamed"
