"""The equal-work floor: what a first `insightflow run` writes, in one bare DuckDB script.

The same outputs as a run, without InsightFlow's code, PyIceberg or Python per row: each CSV is
landed (copied under its SHA-256) and typed by its contract (``sources.yaml``) into the raw zone
with the six lineage columns; the six models (their SQL files, read here, header stripped) are
built from the raw Parquet with the run's newest-load-wins ranking and quarantine; every table and
quarantine is written as zstd Parquet; every model's checks (its header) and row conservation run
as one aggregate query per table. No catalog commits, run records or incremental state.
Run as a script it prints its wall time: ``python benchmarks/equal_work_floor.py SOURCE_DIR OUT_DIR``
(``--counts``: and each table's published, quarantined and superseded rows).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import yaml

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "insightflow"
CONTRACTS = PACKAGE / "contracts" / "sources.yaml"
MODELS = [PACKAGE / "transform" / "models" / f for f in (
    "curated/customer_dim.sql", "curated/product_dim.sql", "curated/order_dim.sql",
    "curated/delivery_dim.sql", "marts/fact_sales.sql", "marts/order_summary.sql")]
HEADER = re.compile(r"\A\s*/\*\s*---\s*\n(?P<yaml>.*?)\n---\s*\*/", re.DOTALL)
PARQUET = "(FORMAT parquet, COMPRESSION zstd)"
LINE_BYTES = 1 << 25  # the run's reader buffer: fewer, larger buffers parse on fewer threads
STRUCTURAL = ("MISSING COLUMNS", "TOO MANY COLUMNS", "UNQUOTED VALUE", "LINE SIZE OVER MAXIMUM")
# DuckDB has no initcap; the DuckDB engine's macro (a single word: the direct expression).
INITCAP = ("CREATE MACRO initcap(s) AS CASE WHEN contains(s, ' ') THEN array_to_string("
           "list_transform(string_split(s, ' '), lambda w: upper(w[1]) || lower(w[2:])), ' ') "
           "ELSE upper(s[1]) || lower(s[2:]) END")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def listed(columns: list[str], alias: str = "") -> str:
    return ", ".join(f"{alias}{ident(c)}" for c in columns)


# --- landing and the raw zone --------------------------------------------------------------------

def land(path: Path, landing: Path) -> Path:
    """Copy ``path`` into ``landing`` under its content hash, in one read; returns the copy."""
    digest = hashlib.sha256()
    partial = landing / f".{path.name}.part"
    with path.open("rb") as source, partial.open("wb") as target:
        while chunk := source.read(1 << 22):
            digest.update(chunk)
            target.write(chunk)
    return partial.replace(landing / f"{digest.hexdigest()}.csv")


def lenient(raw: str, spec: dict) -> str:
    """Text -> its contract type; NULL when blank or unparseable (a refused record parsed again)."""
    if spec["type"] == "VARCHAR":
        return f"nullif({raw}, '')"
    if spec["type"] == "DATE":
        return f"CAST(try_strptime(trim({raw}), {literal(spec['format'])}) AS DATE)"
    return f"TRY_CAST({raw} AS {spec['type']})"


def member(name: str, value: str) -> str:
    """A member of ``_invalid``'s JSON object: ``"column":value``."""
    return f"{literal(chr(34) + name + chr(34) + ':')} || to_json({value})"


def invalid_json(failed: list[tuple[str, str]]) -> str:
    """``_invalid``: a JSON object of the values that ``failed`` ((condition, member)), else NULL."""
    members = ", ".join(f"CASE WHEN {c} THEN {m} END" for c, m in failed)
    return (f"CASE WHEN {' OR '.join(c for c, _ in failed)} "
            f"THEN '{{' || concat_ws(',', {members}) || '}}' END")


@dataclass
class Layout:
    """A file's columns (``c0``, ``c1``, ... by position) matched to its contract's."""

    contract: dict
    positional: list[str]
    matched: dict[str, dict]  # positional column -> its contract column
    extra: list[tuple[str, str]]  # (positional column, raw name) of columns the contract lacks

    @classmethod
    def read(cls, path: Path, contract: dict) -> Layout:
        with path.open(encoding="utf-8-sig", newline="") as file:
            header = next(csv.reader(file))
        by_source = {c["source"].upper(): c for c in contract["columns"]}
        positional = [f"c{i}" for i in range(len(header))]
        matched = {p: by_source[h.strip().upper()] for p, h in zip(positional, header)
                   if h.strip().upper() in by_source}
        extra = [(p, re.sub(r"\W+", "_", h.strip().lower()).strip("_"))
                 for p, h in zip(positional, header) if p not in matched]
        return cls(contract, positional, matched, extra)

    def reader(self, path: Path) -> str:
        """DuckDB's strict reader, typing every column by its contract, listing what it refuses."""
        dates = next((c["format"] for c in self.contract["columns"] if c["type"] == "DATE"), "%Y-%m-%d")
        types = ", ".join(f"{literal(p)}: {literal(self.matched.get(p, {}).get('type', 'VARCHAR'))}"
                          for p in self.positional)
        return (f"read_csv({literal(str(path))}, header = true, auto_detect = false, "
                f"columns = {{{types}}}, delim = ',', quote = '\"', escape = '\"', "
                f"dateformat = {literal(dates)}, store_rejects = true, rejects_table = 'rejected', "
                f"rejects_scan = 'rejected_scans', max_line_size = {LINE_BYTES}, buffer_size = {LINE_BYTES})")

    def projections(self, value: Callable[[str, dict | None], str]) -> list[str]:
        """Contract columns under their raw names (NULL when absent), then extra ones as text."""
        by_name = {spec["name"]: p for p, spec in self.matched.items()}
        typed = [(value(by_name[c["name"]], c) if c["name"] in by_name else f"CAST(NULL AS {c['type']})")
                 + f" AS {ident(c['name'])}" for c in self.contract["columns"]]
        return typed + [f"{value(p, None)} AS {ident(name)}" for p, name in self.extra]

    def text_columns(self) -> list[tuple[str, str]]:
        return [(p, s["name"]) for p, s in self.matched.items() if s["type"] == "VARCHAR"]


def write_valid(con: duckdb.DuckDBPyConnection, layout: Layout, lineage: str, target: Path) -> None:
    """The records the strict reader typed, numbered by their line in the file."""
    # a valid record's line: its rank + 2 (the header is line 1) + the refused lines before it
    con.execute("CREATE TEMP TABLE skipped AS SELECT max(threshold) AS threshold, max(skipped) AS "
                "skipped FROM (SELECT line - 1 - row_number() OVER (ORDER BY line) AS threshold, "
                "row_number() OVER (ORDER BY line) AS skipped FROM refused) GROUP BY threshold")
    nul = [(f"contains({ident(p)}, chr(0))", member(name, ident(p))) for p, name in layout.text_columns()]
    con.execute(
        f"COPY (SELECT {', '.join(layout.projections(lambda p, spec: ident(p)))}, {lineage}, "
        f"r.rowid + 2 + coalesce(s.skipped, 0) AS _source_line, {invalid_json(nul)} AS _invalid "
        f"FROM records AS r ASOF LEFT JOIN skipped AS s ON r.rowid >= s.threshold) "
        f"TO {literal(str(target))} {PARQUET}")


def write_refused(con: duckdb.DuckDBPyConnection, layout: Layout, lineage: str, target: Path) -> None:
    """The refused records, parsed again leniently: a value that does not parse stays as text in
    ``_invalid``; a record with the wrong number of fields is kept whole there."""
    fields = "string_split(csv_line, ',')"
    field = {p: f"{fields}[{i + 1}]" for i, p in enumerate(layout.positional)}
    width = len(layout.positional)
    structural = f"(len({fields}) <> {width} OR list_has_any(errors, [{', '.join(map(literal, STRUCTURAL))}]))"
    failed = [(f"({lenient(field[p], s)} IS NULL AND trim({field[p]}) <> '')", member(s["name"], field[p]))
              for p, s in layout.matched.items() if s["type"] != "VARCHAR"]
    failed += [(f"contains({field[p]}, chr(0))", member(name, field[p])) for p, name in layout.text_columns()]
    malformed = (f"'{{\"_record\": ' || to_json(csv_line) || ', \"_problem\": ' || "
                 f"to_json(len({fields}) || ' fields, expected {width}') || '}}'")

    def value(p: str, spec: dict | None) -> str:
        return f"CASE WHEN NOT {structural} THEN {lenient(field[p], spec) if spec else field[p]} END"

    con.execute(
        f"COPY (SELECT {', '.join(layout.projections(value))}, {lineage}, CAST(line AS BIGINT) AS "
        f"_source_line, CASE WHEN {structural} THEN {malformed} ELSE {invalid_json(failed)} END AS _invalid "
        f"FROM refused) TO {literal(str(target))} {PARQUET}")


def ingest(con: duckdb.DuckDBPyConnection, contract: dict, path: Path, out: Path) -> None:
    """Land ``path`` and type it into ``out/raw/<table>/``; registers the view ``raw.<table>``."""
    landed = land(path, out / "landing")
    sha256, ingested_at = landed.stem, datetime.now()
    lineage = (f"{literal(f'{ingested_at:%Y%m%dT%H%M%S%f}-{sha256[:8]}')} AS _load_id, "
               f"{literal(path.name)} AS _source_file, {literal(sha256)} AS _source_sha256, "
               f"CAST({literal(ingested_at.isoformat(sep=' '))} AS TIMESTAMP) AS _ingested_at")
    layout = Layout.read(landed, contract)
    folder = out / "raw" / contract["table"].split(".")[1]
    folder.mkdir(parents=True)
    con.execute("SET preserve_insertion_order = true")  # the table's rowid numbers records in file order
    con.execute(f"CREATE TEMP TABLE records AS SELECT * FROM {layout.reader(landed)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("CREATE TEMP TABLE refused AS SELECT line, list(DISTINCT CAST(error_type AS VARCHAR)) "
                "AS errors, trim(any_value(csv_line), chr(13) || chr(10)) AS csv_line FROM rejected GROUP BY line")
    files = [folder / "part-00000.parquet"]
    write_valid(con, layout, lineage, files[0])
    if con.execute("SELECT count(*) FROM refused").fetchone()[0]:
        files.append(folder / "part-00001.parquet")
        write_refused(con, layout, lineage, files[1])
    for table in ("records", "refused", "skipped", "rejected", "rejected_scans"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    parquet = ", ".join(literal(str(f)) for f in files)
    con.execute(f"CREATE VIEW {contract['table']} AS SELECT * FROM read_parquet([{parquet}], union_by_name = true)")


# --- the models ----------------------------------------------------------------------------------

def dispositions_sql(model: dict, columns: list[str], repeated: bool) -> str:
    """Every evaluated row with its disposition: NULL (publish), ``superseded`` or its reason.

    Newest load wins among the valid rows of a key: the first line of each load represents it (the
    later ones are ``duplicate_row``/``duplicate_key``), the last load whose values changed wins.
    As in a run's full build, only the keys that occur more than once are ranked.
    """
    if "_reason" not in columns:
        return "SELECT *, CAST(NULL AS VARCHAR) AS _disposition FROM eval"
    if not repeated:
        return "SELECT *, _reason AS _disposition FROM eval"
    keys = listed(model["key"])

    def on(a: str, b: str) -> str:
        return " AND ".join(f"{a}.{ident(k)} = {b}.{ident(k)}" for k in model["key"])

    values = [c for c in columns if not c.startswith("_")]
    fingerprint = "hash(" + ", ".join(f"{ident(c)} IS NULL, {ident(c)}" for c in values) + ")"
    in_repeated = f"EXISTS (SELECT 1 FROM repeated AS k WHERE {on('k', 'e')})"
    return f"""
WITH valid AS (
    SELECT *, row_number() OVER (PARTITION BY {keys}, _load_id ORDER BY _source_line) AS _line_rank,
        {fingerprint} AS _fingerprint
    FROM eval AS e WHERE _reason IS NULL AND {in_repeated}
),
reps AS (SELECT {keys}, _load_id, _fingerprint FROM valid WHERE _line_rank = 1),
marked AS (
    SELECT *, coalesce(_fingerprint <> lag(_fingerprint) OVER (PARTITION BY {keys} ORDER BY _load_id), true)
        AS _is_change
    FROM reps
),
winners AS (SELECT {keys}, max(_load_id) AS _winner_load FROM marked WHERE _is_change GROUP BY {keys})
SELECT {listed(columns, 'v.')},
    CASE
        WHEN v._line_rank > 1 THEN
            CASE WHEN v._fingerprint = r._fingerprint THEN 'duplicate_row' ELSE 'duplicate_key' END
        WHEN v._load_id = w._winner_load THEN NULL
        ELSE 'superseded'
    END AS _disposition
FROM valid AS v
JOIN reps AS r ON {on('r', 'v')} AND r._load_id = v._load_id
JOIN winners AS w ON {on('w', 'v')}
UNION ALL SELECT {listed(columns, 'e.')}, NULL FROM eval AS e WHERE e._reason IS NULL AND NOT {in_repeated}
UNION ALL SELECT *, _reason FROM eval WHERE _reason IS NOT NULL
"""


def write_quarantine(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], target: Path) -> None:
    """The rows not published, but superseded ones, with their reason, lineage and values."""
    values = [c for c in columns if not c.startswith("_")]
    record = "to_json(struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in values) + "))"
    invalid = "_invalid" if "_invalid" in columns else "CAST(NULL AS VARCHAR)"
    target.parent.mkdir(parents=True)
    con.execute(
        f"COPY (SELECT {literal(table)} AS table_name, _disposition AS reason, _source_file AS source_file, "
        f"_source_line AS source_line, _load_id AS load_id, CAST({record} AS VARCHAR) AS record, "
        f"{invalid} AS invalid FROM dispositions WHERE _disposition IS NOT NULL "
        f"AND _disposition <> 'superseded' ORDER BY load_id, source_line) TO {literal(str(target))} {PARQUET}")
    name = f"quarantine.{table.split('.')[1]}"
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({literal(str(target))})")


def build(con: duckdb.DuckDBPyConnection, model: dict, sql: str, out: Path) -> dict[str, int]:
    """Build one model into ``out/<schema>/<table>/`` and its quarantine; the rows by disposition."""
    table, key = model["table"], model["key"]
    con.execute(f"CREATE TEMP TABLE eval AS {sql}")
    columns = [row[0] for row in con.execute("DESCRIBE eval").fetchall()]
    repeated = False
    if model.get("latest_per_key") and "_reason" in columns:
        con.execute(f"CREATE TEMP TABLE repeated AS SELECT {listed(key)} FROM eval WHERE _reason IS NULL "
                    f"GROUP BY {listed(key)} HAVING count(*) > 1")
        repeated = con.execute("SELECT count(*) FROM repeated").fetchone()[0] > 0
    kind = "TABLE" if repeated else "VIEW"
    con.execute(f"CREATE TEMP {kind} dispositions AS {dispositions_sql(model, columns, repeated)}")
    counts = dict(con.execute("SELECT coalesce(_disposition, ''), count(*) FROM dispositions GROUP BY 1").fetchall())
    published = [c for c in columns if c not in ("_reason", "_invalid")]
    target = out / table.replace(".", "/") / "part-00000.parquet"
    target.parent.mkdir(parents=True)
    con.execute(f"COPY (SELECT {listed(published)} FROM dispositions WHERE _disposition IS NULL) "
                f"TO {literal(str(target))} {PARQUET}")
    if "_reason" in columns:
        write_quarantine(con, table, columns, out / "quarantine" / table.split(".")[1] / "part-00000.parquet")
    con.execute(f"DROP {kind} dispositions")
    con.execute("DROP TABLE IF EXISTS repeated")
    con.execute("DROP TABLE eval")
    # the models and checks after it read the table back from its Parquet, as a run's do
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({literal(str(target))})")
    return counts


def check_sql(table: str, spec: dict) -> str | None:
    """An aggregate over ``table`` (a count, or 1/0) of what fails the check; None for ``volume``
    (a first run has no earlier row count to compare with)."""
    kind, columns = spec["check"], spec.get("columns", [spec["column"]] if "column" in spec else [])
    if kind == "unique":
        return f"(SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {listed(columns)} HAVING count(*) > 1))"
    if kind == "not_null":
        return f"count(*) FILTER (WHERE {' OR '.join(f'{ident(c)} IS NULL' for c in columns)})"
    if kind == "accepted_values":
        accepted = ", ".join(literal(str(v)) for v in spec["values"])
        return f"count(*) FILTER (WHERE {ident(spec['column'])} NOT IN ({accepted}))"
    if kind == "range":
        column = ident(spec["column"])
        bounds = [f"{column} < {float(spec['min'])}"] if "min" in spec else []
        bounds += [f"{column} > {float(spec['max'])}"] if "max" in spec else []
        bounds += [f"{column} <= {float(spec['above'])}"] if "above" in spec else []
        return f"count(*) FILTER (WHERE {' OR '.join(bounds)})"
    if kind == "relationships":
        column, field_ = ident(spec["column"]), ident(spec["field"])
        return (f"(SELECT count(*) FROM {table} AS child LEFT JOIN {spec['to']} AS parent "
                f"ON parent.{field_} = child.{column} WHERE child.{column} IS NOT NULL AND parent.{field_} IS NULL)")
    if kind == "reconcile":
        return (f"(SELECT CAST(abs(coalesce(mine.total, 0) - coalesce(theirs.total, 0)) > "
                f"{float(spec.get('tolerance', 0.01))} AS INTEGER) FROM (SELECT {spec['expression']} AS total "
                f"FROM {table}) AS mine, ({spec['against']}) AS theirs)")
    if kind == "freshness":
        days = int(spec["max_age_days"])
        return f"CAST(max({ident(spec['column'])}) < CURRENT_DATE - INTERVAL {days} DAY AS INTEGER)"
    if kind == "volume":
        return None
    raise ValueError(f"{table}: unknown check {kind!r}")


def check(con: duckdb.DuckDBPyConnection, model: dict, counts: dict[str, int]) -> list[str]:
    """Run the model's checks and row conservation in one query; the failing ``error`` checks."""
    table = model["table"]
    checks = [(spec, sql) for spec in model.get("checks", ()) if (sql := check_sql(table, spec))]
    conserves = f"(SELECT count(*) FROM {model['conserves']})" if model.get("conserves") else "NULL"
    row = con.execute(f"SELECT {conserves}, count(*), {', '.join(sql for _, sql in checks)} FROM {table}").fetchone()
    failed = [f"{spec['check']} #{i} ({n})" for i, ((spec, _), n) in enumerate(zip(checks, row[2:]))
              if n and spec.get("severity", "error") == "error"]
    # every input row is published, quarantined or superseded by a newer load: none vanishes
    if model.get("conserves") and row[0] != sum(counts.values()):
        failed.append(f"row_conservation ({row[0]} in, {sum(counts.values())} out)")
    if row[1] != counts.get("", 0):
        failed.append(f"published rows ({row[1]}, {counts.get('', 0)} expected)")
    return failed


def equal_work_floor(source: Path, out: Path, memory_limit: str | None = None) -> tuple[float, dict]:
    """Write a first run's tables from the export in ``source`` into ``out``; (seconds, counts)."""
    started = time.perf_counter()
    (out / "landing").mkdir(parents=True)
    contracts = yaml.safe_load(CONTRACTS.read_text("utf-8"))
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if memory_limit:
        con.execute(f"SET memory_limit = {literal(memory_limit)}")
    for schema in ("raw", "curated", "marts", "quarantine"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(INITCAP)
    files = {p.name.lower(): p for p in source.iterdir()}
    for name, contract in contracts.items():
        if name != "drift":
            ingest(con, contract, next(files[f.lower()] for f in contract["file_names"] if f.lower() in files), out)
    summary = {}
    for path in MODELS:
        text = path.read_text("utf-8")
        header = HEADER.match(text)
        model = yaml.safe_load(header["yaml"])
        counts = build(con, model, text[header.end():].strip().rstrip(";"), out)
        if failed := check(con, model, counts):
            raise SystemExit(f"{model['table']}: checks failed: {', '.join(failed)}")
        summary[model["table"]] = {
            "published": counts.get("", 0),
            "quarantined": sum(n for d, n in counts.items() if d not in ("", "superseded")),
            "superseded": counts.get("superseded", 0),
            "reasons": {d: n for d, n in sorted(counts.items()) if d not in ("", "superseded")},
        }
    con.close()
    return time.perf_counter() - started, summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--memory-limit", help="DuckDB's memory_limit (default: DuckDB's own, as the floor's)")
    parser.add_argument("--counts", action="store_true", help="also print each table's rows and reasons")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    seconds, summary = equal_work_floor(args.source, args.out, args.memory_limit)
    if args.counts:
        for table, counts in summary.items():
            print(f"{table}: {counts}", file=sys.stderr)
    print(f"{seconds:.3f} s")
