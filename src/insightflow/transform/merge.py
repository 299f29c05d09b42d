"""How a model's table is rebuilt and merged: what the runner runs for every model.

How a model is maintained (its header, ``insightflow.transform.models``), written once here for
every model and engine, in DuckDB's SQL dialect:

- **Rows to evaluate.** A full build evaluates every row of the driver. An incremental build of a
  model driven by a raw table evaluates the loads added since the model last read it, plus every
  load's rows of the keys whose quarantined rows can now be placed (a late-arriving customer, say);
  one driven by another model evaluates the groups (``by``) of driver rows that changed or that
  share ``lookups`` columns with a changed row of another input. No change: no work at all.
- **Newest load wins.** Among the valid rows of a key (``latest_per_key``), the first line of each
  load represents it (later lines of the same key in that load are ``duplicate_row`` or
  ``duplicate_key``); ordered by load, a representative whose values differ from the one before
  it is a change, and the last change is published — so a newer load with the same values leaves
  the row, and its lineage, as they are. The rest are ``superseded``.
- **Merge.** The new table is the published one without the keys (or groups) rebuilt, plus their
  new rows; the quarantine likewise. A table whose rows did not change is not rewritten.
- **What changed**, the rows before and after (``_side``), goes to the models downstream.

Row conservation holds over all loads: every raw row is published, quarantined or superseded, and
the superseded count is carried from run to run (``ModelState``) and checked against the raw total.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from insightflow.lake import TableFiles
from insightflow.quoting import ident, literal, table_ident
from insightflow.transform.engine import BuildResult, Engine
from insightflow.transform.models import DISPOSITION, FULL, INVALID, REASON, SUPERSEDED, Model

NONE, ROWS, UNKNOWN = "none", "rows", "unknown"
QUARANTINE_COLUMNS = ("table_name", "reason", "source_file", "source_line", "load_id", "record", "invalid")
_LINEAGE = ("_load_id", "_source_line")


@dataclass(frozen=True)
class Changes:
    """How an input changed since the snapshot a model last read: ``kind`` NONE (not at all),
    ROWS (``rows`` names them) or UNKNOWN (the model is rebuilt whole).

    For a raw table, ``rows`` is a relation of the loads added since and ``earlier`` one of the
    loads before; for a model built in this run, ``rows`` holds its changed rows as they were
    (``_side = 'old'``) and as they are now (``_side = 'new'``).
    """

    kind: str
    rows: str | None = None
    earlier: str | None = None


UNCHANGED, UNKNOWN_CHANGES = Changes(NONE), Changes(UNKNOWN)


@dataclass(frozen=True)
class ModelState:
    """A model as the published run left it: relations of its rows and quarantine (registered in
    the engine), its columns and the rows it has superseded so far."""

    table: str
    quarantine: str | None
    columns: dict[str, str]  # column -> its DuckDB type
    superseded: int = 0


def work(table: str, part: str) -> str:
    """The name of a relation the run keeps for ``table`` (``work.curated__order_dim__eval``)."""
    return f"work.{table.replace('.', '__')}__{part.replace('.', '__')}"


class ModelMerge:
    """The statements of one model's build, in order (see the module's docstring)."""

    def __init__(self, engine: Engine, model: Model, staging: str, state: ModelState | None,
                 changes: dict[str, Changes], full_refresh: bool) -> None:
        self.engine, self.model, self.staging, self.state = engine, model, staging, state
        self.changes = changes
        inputs = [model.driver, *(a.lookup for a in model.late_arriving), *model.lookups]
        self.full = (
            full_refresh or model.kind == FULL or state is None
            or any(changes.get(name, UNKNOWN_CHANGES).kind == UNKNOWN for name in inputs)
        )
        self.name = lambda part: work(model.table, part)
        self.retry: str | None = None  # keys re-derived from all their loads
        self.affected: str | None = None  # groups of driver rows rebuilt

    # --- the build ----------------------------------------------------------------------------

    def run(self) -> tuple[BuildResult, Changes]:
        model, engine = self.model, self.engine
        source = self._source()
        if source is None:
            return self._unchanged(), UNCHANGED
        evaluated = self.name("eval")
        engine.create(evaluated, _rebind(model.sql, model.driver, source), materialize=True)
        columns = engine.columns(f"SELECT * FROM {table_ident(evaluated)}")
        self.published_columns = [c for c in columns if c not in (REASON, INVALID)]
        if not self.full and set(self.published_columns) != set(self.state.columns):  # type: ignore[union-attr]
            self.full = True  # the model's columns changed since the table was built: rebuild it
            return self.run()
        dispositions = self.name("dispositions")
        repeated = self._repeated_keys(evaluated, columns)
        ranked = repeated is not None or (model.latest_per_key and not self.full)
        engine.create(dispositions, self._dispositions_sql(evaluated, columns, ranked, repeated), materialize=ranked)
        counts = dict(self._scalar_rows(
            f"SELECT coalesce({DISPOSITION}, ''), count(*) FROM {table_ident(dispositions)} GROUP BY 1"))
        upserts = f"SELECT {self._list(self.published_columns)} FROM {table_ident(dispositions)} " \
                  f"WHERE {DISPOSITION} IS NULL"
        delta = UNKNOWN_CHANGES if self.full else self._changes(upserts)
        changed = counts.get("", 0) if self.full else self._count(delta.rows)
        published_files = None
        if self.full or changed:
            published_files = engine.write(self._merged_sql(upserts), f"{self.staging}/{model.table}")
            engine.register(TableFiles(model.table, None, tuple(map(str, published_files)), ()))
        else:
            engine.create(model.table, f"SELECT * FROM {table_ident(self.state.table)}")  # type: ignore[union-attr]
            delta = UNCHANGED
        quarantine_files = self._quarantine(REASON in columns, dispositions, counts)
        result = BuildResult(
            table=model.table,
            quarantine_table=model.quarantine_table if REASON in columns else None,
            published_files=published_files,
            quarantine_files=quarantine_files,
            rows=self._count(model.table),
            quarantined=self._count(self._quarantine_relation) if self._quarantine_relation else 0,
            superseded=self._superseded(counts),
            input_rows=self._count(model.conserves) if model.conserves else None,
            seconds=0.0,
            evaluated=sum(counts.values()),
            changed=changed,
            full=self.full,
            reasons=self._reasons(),
        )
        return result, delta

    def _source(self) -> str | None:
        """The relation of the driver rows to evaluate; None when no input changed."""
        model, engine = self.model, self.engine
        if self.full:
            return model.driver
        driver = self.changes.get(model.driver, UNCHANGED)
        source = self.name("source")
        if model.latest_per_key:
            self.retry = self._retry_keys()
            parts = [f"SELECT * FROM {table_ident(driver.rows)}"] if driver.kind == ROWS else []
            if self.retry is not None:
                earlier = driver.earlier if driver.kind == ROWS else model.driver  # no new load: all
                match = " AND ".join(f"r.{ident(k)} = e.{ident(n)}" for k, n in zip(model.key, model.driver_key))
                parts.append(f"SELECT e.* FROM {table_ident(earlier)} AS e "
                             f"WHERE EXISTS (SELECT 1 FROM {table_ident(self.retry)} AS r WHERE {match})")
            if not parts:
                return None
            engine.create(source, " UNION ALL ".join(parts))
            return source
        affected = []
        if driver.kind == ROWS:
            affected.append(f"SELECT DISTINCT {self._list(model.by)} FROM {table_ident(driver.rows)}")
        for lookup, columns in model.lookups.items():
            changed = self.changes.get(lookup, UNCHANGED)
            if changed.kind == ROWS:
                match = " AND ".join(f"l.{ident(c)} = d.{ident(c)}" for c in columns)
                affected.append(
                    f"SELECT DISTINCT {self._list(model.by, 'd')} FROM {table_ident(model.driver)} AS d "
                    f"WHERE EXISTS (SELECT 1 FROM {table_ident(changed.rows)} AS l WHERE {match})")
        if not affected:
            return None
        self.affected = self.name("affected")
        engine.create(self.affected, " UNION ".join(affected), materialize=True)
        if not self._count(self.affected):
            return None
        match = " AND ".join(f"a.{ident(c)} = d.{ident(c)}" for c in model.by)
        engine.create(source, f"SELECT d.* FROM {table_ident(model.driver)} AS d "
                              f"WHERE EXISTS (SELECT 1 FROM {table_ident(self.affected)} AS a WHERE {match})")
        return source

    def _retry_keys(self) -> str | None:
        """The keys of quarantined rows whose missing key arrived in this run (None: none)."""
        model, state = self.model, self.state
        assert state is not None
        if state.quarantine is None:
            return None
        selects = []
        for late in model.late_arriving:
            changed = self.changes.get(late.lookup, UNCHANGED)
            if changed.kind != ROWS:
                continue
            arrived = (f"SELECT n.{ident(late.field)} FROM {table_ident(changed.rows)} AS n WHERE n._side = 'new' "
                       f"AND NOT EXISTS (SELECT 1 FROM {table_ident(changed.rows)} AS o WHERE o._side = 'old' "
                       f"AND o.{ident(late.field)} = n.{ident(late.field)})")
            keys = ", ".join(f"{_from_record(k, self._type(k))} AS {ident(k)}" for k in model.key)
            selects.append(
                f"SELECT DISTINCT {keys} FROM {table_ident(state.quarantine)} AS q "
                f"WHERE q.reason = {literal(late.reason)} "
                f"AND {_from_record(late.column, self._type(late.column))} IN ({arrived})")
        if not selects:
            return None
        retry = self.name("retry")
        self.engine.create(retry, " UNION ".join(selects), materialize=True)
        return retry if self._count(retry) else None

    def _repeated_keys(self, evaluated: str, columns: list[str]) -> str | None:
        """For a full build: the keys that occur more than once among the valid rows (materialized),
        or None when no key does — newest-load-wins ranking is a window over every row it ranks,
        so a full build ranks only those keys (a first load of unique keys ranks nothing)."""
        if not (self.full and self.model.latest_per_key and REASON in columns):
            return None
        keys = self._list(self.model.key)
        repeated = self.name("repeated")
        self.engine.create(repeated, f"SELECT {keys} FROM {table_ident(evaluated)} WHERE {REASON} IS NULL "
                                     f"GROUP BY {keys} HAVING count(*) > 1", materialize=True)
        return repeated if self._count(repeated) else None

    def _dispositions_sql(self, evaluated: str, columns: list[str], ranked: bool, repeated: str | None) -> str:
        """Every evaluated row with its disposition: NULL (publish), ``superseded`` or a reason.

        ``ranked``: rank the valid rows by key (newest load wins), only those of ``repeated`` keys
        if given; otherwise a row's own reason is its disposition.
        """
        model = self.model
        listed = self._list(columns)
        if REASON not in columns:  # an aggregate mart: every row is published
            return f"SELECT {listed}, CAST(NULL AS VARCHAR) AS {DISPOSITION} FROM {table_ident(evaluated)}"
        if not ranked:
            return f"SELECT {listed}, {REASON} AS {DISPOSITION} FROM {table_ident(evaluated)}"
        keys = self._list(model.key)
        only, single = "", ""
        if repeated:
            in_repeated = f"EXISTS (SELECT 1 FROM {table_ident(repeated)} AS k WHERE {self._on_key('k', 'e')})"
            only = f" AND {in_repeated}"
            single = (f"UNION ALL SELECT {self._list(columns, 'e')}, CAST(NULL AS VARCHAR) AS {DISPOSITION} "
                      f"FROM {table_ident(evaluated)} AS e WHERE e.{REASON} IS NULL AND NOT {in_repeated}\n")
        values = [c for c in columns if not c.startswith("_")]
        on_key = self._on_key
        held = ""
        if not self.full and self.state is not None:
            # The published row of each key that has a new representative stands first in its
            # sequence (its values are what the new ones are compared with) — except for keys
            # re-derived from all their loads, whose published row is among the evaluated ones.
            held = (f" UNION ALL SELECT {self._list(model.key, 'c')}, c._load_id, {_fingerprint(values, 'c')} "
                    f"AS _fingerprint FROM {table_ident(self.state.table)} AS c "
                    f"WHERE EXISTS (SELECT 1 FROM reps AS r WHERE {on_key('r', 'c')}){self._not_retried('c')}")
        return f"""
WITH valid AS (
    SELECT *, row_number() OVER (PARTITION BY {keys}, _load_id ORDER BY _source_line) AS _line_rank,
        {_fingerprint(values)} AS _fingerprint
    FROM {table_ident(evaluated)} AS e WHERE {REASON} IS NULL{only}
),
reps AS (SELECT {keys}, _load_id, _fingerprint FROM valid WHERE _line_rank = 1),
sequence AS (SELECT * FROM reps{held}),
marked AS (
    SELECT *, coalesce(_fingerprint <> lag(_fingerprint) OVER (PARTITION BY {keys} ORDER BY _load_id), true)
        AS _is_change
    FROM sequence
),
winners AS (SELECT {keys}, max(_load_id) AS _winner_load FROM marked WHERE _is_change GROUP BY {keys})
SELECT {self._list(columns, 'v')},
    CASE
        WHEN v._line_rank > 1 THEN
            CASE WHEN v._fingerprint = r._fingerprint THEN 'duplicate_row' ELSE 'duplicate_key' END
        WHEN v._load_id = w._winner_load THEN NULL
        ELSE '{SUPERSEDED}'
    END AS {DISPOSITION}
FROM valid AS v
JOIN reps AS r ON {on_key('r', 'v')} AND r._load_id = v._load_id
JOIN winners AS w ON {on_key('w', 'v')}
{single}UNION ALL
SELECT {listed}, {REASON} AS {DISPOSITION} FROM {table_ident(evaluated)} WHERE {REASON} IS NOT NULL
"""

    def _merged_sql(self, upserts: str) -> str:
        """The new table: the published rows not rebuilt, then the rebuilt ones."""
        if self.full:
            return upserts
        assert self.state is not None
        kept = self._kept(self.state.table, "c")
        return f"SELECT {self._list(self.published_columns, 'c')} FROM {table_ident(self.state.table)} AS c " \
               f"WHERE {kept} UNION ALL {upserts}"

    def _kept(self, relation: str, alias: str) -> str:
        """The condition on the published ``relation`` that keeps a row of it (not rebuilt)."""
        if self.model.latest_per_key:
            match = " AND ".join(f"d.{ident(k)} = {alias}.{ident(k)}" for k in self.model.key)
            return (f"NOT EXISTS (SELECT 1 FROM {table_ident(self.name('dispositions'))} AS d "
                    f"WHERE d.{DISPOSITION} IS NULL AND {match})")
        match = " AND ".join(f"a.{ident(c)} = {alias}.{ident(c)}" for c in self.model.by)
        return f"NOT EXISTS (SELECT 1 FROM {table_ident(self.affected)} AS a WHERE {match})"

    def _changes(self, upserts: str) -> Changes:
        """The published rows that changed, before (``old``) and after (``new``), materialized."""
        model, state = self.model, self.state
        assert state is not None
        current = table_ident(state.table)
        listed = self._list(self.published_columns)
        if model.latest_per_key:
            on_key = " AND ".join(f"u.{ident(k)} = c.{ident(k)}" for k in model.key)
            same_row = " AND ".join(f"u.{ident(c)} = c.{ident(c)}" for c in _LINEAGE)
            sql = (f"SELECT {self._list(self.published_columns, 'c')}, 'old' AS _side FROM {current} AS c "
                   f"WHERE EXISTS (SELECT 1 FROM ({upserts}) AS u WHERE {on_key} AND NOT ({same_row})) "
                   f"UNION ALL SELECT {self._list(self.published_columns, 'u')}, 'new' AS _side FROM ({upserts}) AS u "
                   f"WHERE NOT EXISTS (SELECT 1 FROM {current} AS c WHERE {on_key} AND {same_row})")
        else:
            before = f"SELECT {listed} FROM {current} AS c WHERE NOT ({self._kept(state.table, 'c')})"
            sql = (f"SELECT *, 'old' AS _side FROM ({before} EXCEPT {upserts}) AS gone "
                   f"UNION ALL SELECT *, 'new' AS _side FROM ({upserts} EXCEPT {before}) AS came")
        name = self.name("changes")
        self.engine.create(name, sql, materialize=True)
        return Changes(ROWS, name)

    def _quarantine(self, has_reason: bool, dispositions: str, counts: dict[str, int]) -> list[str] | None:
        """Stage the new quarantine; None when it did not change (or the model has none)."""
        self._quarantine_relation: str | None = None
        if not has_reason:
            return None
        model, state = self.model, self.state
        values = [c for c in self.published_columns if not c.startswith("_")]
        record = "to_json(struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in values) + "))"
        invalid = ident(INVALID) if INVALID in self._columns_of(dispositions) else "CAST(NULL AS VARCHAR)"
        new_rows = (
            f"SELECT {literal(model.table)} AS table_name, {DISPOSITION} AS reason, "
            f"_source_file AS source_file, _source_line AS source_line, _load_id AS load_id, "
            f"CAST({record} AS VARCHAR) AS record, {invalid} AS invalid FROM {table_ident(dispositions)} "
            f"WHERE {DISPOSITION} IS NOT NULL AND {DISPOSITION} <> '{SUPERSEDED}'")
        added = sum(n for reason, n in counts.items() if reason not in ("", SUPERSEDED))
        if self.full or state is None or state.quarantine is None:
            sql, removed = new_rows, None
        else:
            kept = f"SELECT {self._list(QUARANTINE_COLUMNS, 'q')} FROM {table_ident(state.quarantine)} AS q " \
                   f"WHERE {self._quarantine_kept()}"
            removed = self._count(state.quarantine) - self._scalar(f"SELECT count(*) FROM ({kept}) AS k")
            if not removed and not added:
                self.engine.create(self.name("quarantine"), f"SELECT * FROM {table_ident(state.quarantine)}")
                self._quarantine_relation = self.name("quarantine")
                return None
            sql = f"{kept} UNION ALL {new_rows}"
        files = self.engine.write(sql, f"{self.staging}/{model.quarantine_table}", order_by=("load_id", "source_line"))
        self.engine.register(TableFiles(self.name("quarantine"), None, tuple(map(str, files)), ()))
        self._quarantine_relation = self.name("quarantine")
        return files

    def _quarantine_kept(self) -> str:
        """The condition that keeps a published quarantined row ``q`` (not evaluated again)."""
        if self.model.latest_per_key:
            return (f"NOT EXISTS (SELECT 1 FROM {table_ident(self.name('eval'))} AS e "
                    f"WHERE e._load_id = q.load_id AND e._source_line = q.source_line)")
        match = " AND ".join(f"a.{ident(c)} = {_from_record(c, self._type(c), 'q')}" for c in self.model.by)
        return f"NOT EXISTS (SELECT 1 FROM {table_ident(self.affected)} AS a WHERE {match})"

    def _superseded(self, counts: dict[str, int]) -> int:
        """Rows superseded over all loads: carried from the published state, with this run's."""
        superseded = counts.get(SUPERSEDED, 0)
        if self.full or not self.model.latest_per_key:
            return superseded
        state = self.state
        assert state is not None
        dispositions = table_ident(self.name("dispositions"))
        # published rows replaced by a new winner (their own raw row was not evaluated again)
        replaced = self._scalar(
            f"SELECT count(*) FROM {table_ident(state.table)} AS c WHERE EXISTS (SELECT 1 FROM {dispositions} AS u "
            f"WHERE u.{DISPOSITION} IS NULL AND {self._on_key('u', 'c')}){self._not_retried('c')}")
        earlier = 0
        if self.retry:
            # rows of earlier loads evaluated again were superseded before unless published or quarantined
            driver = self.changes[self.model.driver]
            new_loads = (f"SELECT DISTINCT _load_id FROM {table_ident(driver.rows)}" if driver.kind == ROWS
                         else "SELECT CAST(NULL AS VARCHAR) AS _load_id WHERE false")
            old = f"SELECT _load_id, _source_line FROM {table_ident(self.name('eval'))} " \
                  f"WHERE _load_id NOT IN ({new_loads})"
            earlier = self._scalar(
                f"SELECT count(*) FROM ({old}) AS e WHERE NOT EXISTS (SELECT 1 FROM {table_ident(state.table)} AS c "
                f"WHERE c._load_id = e._load_id AND c._source_line = e._source_line)"
                + (f" AND NOT EXISTS (SELECT 1 FROM {table_ident(state.quarantine)} AS q "
                   f"WHERE q.load_id = e._load_id AND q.source_line = e._source_line)" if state.quarantine else ""))
        return state.superseded - earlier + superseded + replaced

    def _unchanged(self) -> BuildResult:
        """No input changed: the published table stands as it is."""
        assert self.state is not None
        self.engine.create(self.model.table, f"SELECT * FROM {table_ident(self.state.table)}")
        quarantine = self.state.quarantine
        return BuildResult(
            table=self.model.table,
            quarantine_table=self.model.quarantine_table if quarantine else None,
            published_files=None, quarantine_files=None,
            rows=self._count(self.state.table),
            quarantined=self._count(quarantine) if quarantine else 0,
            superseded=self.state.superseded, input_rows=None, seconds=0.0, full=False,
        )

    # --- helpers ------------------------------------------------------------------------------

    def _on_key(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{ident(k)} = {right}.{ident(k)}" for k in self.model.key)

    def _not_retried(self, alias: str) -> str:
        """A condition: the key of ``alias`` is not among those re-derived from all their loads."""
        if not self.retry:
            return ""
        return f" AND NOT EXISTS (SELECT 1 FROM {table_ident(self.retry)} AS t WHERE {self._on_key('t', alias)})"

    def _reasons(self) -> dict[str, int]:
        if not self._quarantine_relation:
            return {}
        return dict(self._scalar_rows(
            f"SELECT reason, count(*) FROM {table_ident(self._quarantine_relation)} GROUP BY 1 ORDER BY 1"))

    def _type(self, column: str) -> str:
        """The type of a published column (the key columns read back from a quarantined record)."""
        assert self.state is not None
        return self.state.columns[column]

    def _columns_of(self, relation: str) -> list[str]:
        return self.engine.columns(f"SELECT * FROM {table_ident(relation)}")

    def _count(self, relation: str | None) -> int:
        return self._scalar(f"SELECT count(*) FROM {table_ident(relation)}") if relation else 0

    def _scalar(self, sql: str) -> int:
        return int(self.engine.query(sql)[1][0][0] or 0)

    def _scalar_rows(self, sql: str) -> list[tuple]:
        return self.engine.query(sql)[1]

    @staticmethod
    def _list(columns, alias: str | None = None) -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + ident(c) for c in columns)


def _fingerprint(columns: list[str], alias: str | None = None) -> str:
    """A 64-bit hash of a row's values: tells an unchanged row (or an exact duplicate) from a
    changed one. Each value goes with whether it is NULL, so that a NULL moving from one column to
    the next changes the hash on every engine (Spark's hashes skip NULL arguments); hashing the
    values themselves costs a seventh of an md5 of their text."""
    prefix = f"{alias}." if alias else ""
    return "hash(" + ", ".join(f"{prefix}{ident(c)} IS NULL, {prefix}{ident(c)}" for c in columns) + ")"


def _from_record(column: str, kind: str, alias: str = "q") -> str:
    """A column of a quarantined row, read back from its ``record`` (JSON of its values)."""
    return f"CAST(json_extract_string({alias}.record, {literal('$.' + column)}) AS {kind})"


def _rebind(sql: str, table: str, relation: str) -> str:
    """The model's SQL reading ``relation`` wherever it reads ``table`` (same alias)."""
    schema, name = relation.split(".")
    wanted_db, wanted_name = table.split(".")

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.db == wanted_db and node.name == wanted_name:
            renamed = exp.table_(name, db=schema, alias=node.alias or wanted_name, quoted=True)
            return renamed
        return node

    if relation == table:
        return sql
    return sqlglot.parse_one(sql, dialect="duckdb").transform(rename).sql(dialect="duckdb")
