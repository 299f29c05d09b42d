"""SQL models: one file per table, a YAML header, dependencies read from the SQL itself.

A model selects every row of its input with a ``_reason`` column: NULL publishes the row, any
other value is the reason code under which the row goes to ``quarantine.<table>``. A model whose
header says ``latest_per_key: true`` is wrapped so that, per ``key``, the newest load's row wins
and the others are marked ``superseded`` (older loads) or ``duplicate_row``/``duplicate_key``
(same load) — the same rule for every table, written once here rather than in every model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from importlib import resources

import sqlglot
import yaml
from sqlglot import exp

from insightflow.errors import ModelError
from insightflow.quoting import ident as _ident

_HEADER = re.compile(r"\A\s*/\*\s*---\s*\n(?P<yaml>.*?)\n---\s*\*/", re.DOTALL)

#: Columns that carry lineage and bookkeeping through the models; never business data.
META_COLUMNS = ("_repairs", "_load_id", "_source_file", "_source_line")
REASON, INVALID, DISPOSITION = "_reason", "_invalid", "_disposition"
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Model:
    """One SQL model and what its header declares."""

    table: str
    sql: str
    grain: str
    key: tuple[str, ...]
    latest_per_key: bool = False
    conserves: str | None = None
    checks: tuple[dict, ...] = ()
    depends_on: tuple[str, ...] = field(default=())

    @property
    def schema(self) -> str:
        return self.table.split(".")[0]

    @property
    def quarantine_table(self) -> str:
        return f"quarantine.{self.table.split('.')[1]}"


def parse_model(text: str, origin: str) -> Model:
    """Read a model file: its YAML header and its SQL."""
    match = _HEADER.match(text)
    if not match:
        raise ModelError(f"{origin}: a model starts with a /* --- YAML --- */ header")
    header = yaml.safe_load(match["yaml"])
    sql = text[match.end() :].strip().rstrip(";")
    try:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
    except sqlglot.errors.ParseError as error:
        raise ModelError(f"{origin}: {str(error).splitlines()[0]}") from None
    depends = sorted(
        {f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db}
    )
    return Model(
        table=header["table"],
        sql=sql,
        grain=header.get("grain", ""),
        key=tuple(header.get("key", ())),
        latest_per_key=bool(header.get("latest_per_key", False)),
        conserves=header.get("conserves"),
        checks=tuple(header.get("checks", ())),
        depends_on=tuple(depends),
    )


@cache
def load_models() -> tuple[Model, ...]:
    """The package's models in dependency order."""
    root = resources.files("insightflow.transform").joinpath("models")
    models = {}
    for schema in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(p for p in schema.iterdir() if p.name.endswith(".sql")):
            model = parse_model(path.read_text("utf-8"), f"{schema.name}/{path.name}")
            models[model.table] = model
    return tuple(models[name] for name in dependency_order(models))


#: The stages a run can be limited to (``insightflow run --stage``), with the schema of the models
#: each builds: ``ingest`` only loads the raw tables, ``dims`` is the original's Glue job 1, ``facts``
#: its job 2; ``all`` ingests and builds everything.
STAGES: dict[str, tuple[str, ...]] = {
    "all": ("curated", "marts"),
    "ingest": (),
    "dims": ("curated",),
    "facts": ("marts",),
}


def stage_models(stage: str) -> tuple[Model, ...]:
    """The models a run of ``stage`` builds, in dependency order."""
    return tuple(m for m in load_models() if m.schema in STAGES[stage])


def dependency_order(models: dict[str, Model]) -> list[str]:
    graph = {name: {d for d in m.depends_on if d in models} for name, m in models.items()}
    return list(TopologicalSorter(graph).static_order())


def plain_sql(model: Model) -> str:
    """The model's SQL with its own ``_reason`` as disposition: what ``wrapped_sql`` gives when no
    key of a valid row occurs more than once (an engine may check that first and rank only if so)."""
    return f"SELECT *, {REASON} AS {DISPOSITION} FROM ({model.sql}) AS model"


def wrapped_sql(model: Model, columns: list[str], source: str | None = None) -> str:
    """The model's SQL with its rows' disposition: NULL (publish), ``superseded`` or a reason.

    ``columns`` are the model's output columns (the engine describes them); ``source`` is a query
    giving the model's rows, when an engine has them already (default: the model's SQL).
    """
    source = source or model.sql
    if REASON not in columns:  # an aggregate mart: every row is published
        return f"SELECT *, CAST(NULL AS VARCHAR) AS {DISPOSITION} FROM ({source}) AS model"
    if not model.latest_per_key:
        return f"SELECT *, {REASON} AS {DISPOSITION} FROM ({source}) AS model"
    keys = ", ".join(_ident(k) for k in model.key)
    values = [c for c in columns if not c.startswith("_")]
    # A row's fingerprint tells an exact duplicate from a conflicting one within a load. Only keys
    # that occur more than once are ranked: most keys occur once, and ranking them all is costly.
    fingerprint = "md5(concat_ws('|', " + ", ".join(
        f"coalesce(CAST({_ident(c)} AS VARCHAR), '\\N')" for c in values
    ) + "))"
    newest_first = f"PARTITION BY {keys} ORDER BY _load_id DESC, _source_line"
    listed = ", ".join(_ident(c) for c in columns)
    return f"""
WITH model AS ({source}),
valid AS (
    SELECT *, count(*) OVER (PARTITION BY {keys}) AS _occurrences FROM model WHERE {REASON} IS NULL
),
ranked AS (
    SELECT
        *,
        row_number() OVER ({newest_first}) AS _rank,
        first_value(_load_id) OVER ({newest_first}) AS _winner_load,
        {fingerprint} AS _fingerprint,
        first_value({fingerprint}) OVER ({newest_first}) AS _winner_fingerprint
    FROM valid
    WHERE _occurrences > 1
)
SELECT {listed}, CAST(NULL AS VARCHAR) AS {DISPOSITION} FROM valid WHERE _occurrences = 1
UNION ALL
SELECT {listed},
    CASE
        WHEN _rank = 1 THEN NULL
        WHEN _load_id <> _winner_load THEN '{SUPERSEDED}'
        WHEN _fingerprint = _winner_fingerprint THEN 'duplicate_row'
        ELSE 'duplicate_key'
    END AS {DISPOSITION}
FROM ranked
UNION ALL
SELECT {listed}, {REASON} AS {DISPOSITION}
FROM model WHERE {REASON} IS NOT NULL
"""
