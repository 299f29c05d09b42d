"""SQL models: one file per table, a YAML header, dependencies read from the SQL itself.

A model selects every row of its input with a ``_reason`` column: NULL publishes the row, any
other value is the reason code under which the row goes to ``quarantine.<table>``. The header says
how the table is maintained (``insightflow.transform.runner`` does it, the same way for every
model):

- ``kind: incremental_by_unique_key`` (the default): a run rebuilds only the rows of the keys its
  inputs changed and merges them into the table by ``key``; ``kind: full`` rebuilds it every run.
- ``driver`` (default: the ``conserves`` table) is the input whose rows make the table's rows. A
  model with ``latest_per_key: true`` is driven by a raw table: per ``key``, the newest load's row
  wins (a newer load with the same values leaves the row as it is), the others are ``superseded``,
  and a key twice in one load is ``duplicate_row``/``duplicate_key``. Its other inputs may only
  make rows wait: ``late_arriving`` lists the reasons under which a row is quarantined until its
  key arrives in another table, and the run that brings the key retries it.
- Any other model is rebuilt for the groups of driver rows (``by``, default its ``key``) that
  changed, or that share ``lookups`` columns with a changed row of another input.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from importlib import resources

import sqlglot
import yaml
from sqlglot import exp

from insightflow.contracts import load_contracts
from insightflow.errors import ModelError

_HEADER = re.compile(r"\A\s*/\*\s*---\s*\n(?P<yaml>.*?)\n---\s*\*/", re.DOTALL)

REASON, INVALID, DISPOSITION = "_reason", "_invalid", "_disposition"
SUPERSEDED = "superseded"
INCREMENTAL, FULL = "incremental_by_unique_key", "full"


@dataclass(frozen=True)
class LateArriving:
    """Rows quarantined under ``reason`` because their ``column`` has no match in ``lookup``."""

    reason: str
    column: str
    lookup: str
    field: str


@dataclass(frozen=True)
class Model:
    """One SQL model and what its header declares."""

    table: str
    sql: str
    grain: str
    key: tuple[str, ...]
    kind: str = INCREMENTAL
    latest_per_key: bool = False
    conserves: str | None = None
    driver: str | None = None
    by: tuple[str, ...] = ()
    lookups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    late_arriving: tuple[LateArriving, ...] = ()
    checks: tuple[dict, ...] = ()
    depends_on: tuple[str, ...] = field(default=())
    #: What the table's columns mean (``columns:``), and the column sets its readers filter or join
    #: on (``indexes:``): served with the table (comments, indexes of ``insightflow.bi``), not part
    #: of how it is built.
    columns: dict[str, str] = field(default_factory=dict, compare=False)
    indexes: tuple[tuple[str, ...], ...] = field(default=(), compare=False)
    #: {input column: output column} of the columns the model selects as they are, renamed or not
    #: (``l.order_product_id AS product_id``): how the model names its driver's columns.
    renames: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def schema(self) -> str:
        return self.table.split(".")[0]

    @property
    def quarantine_table(self) -> str:
        return f"quarantine.{self.table.split('.')[1]}"

    @property
    def fingerprint(self) -> str:
        """A hash of the model's definition: a table built by another definition is rebuilt whole
        (as SQLMesh versions a model by its fingerprint)."""
        definition = repr((self.sql, self.key, self.kind, self.latest_per_key, self.conserves, self.driver,
                           self.by, sorted(self.lookups.items()), self.late_arriving, self.checks))
        return hashlib.sha256(definition.encode()).hexdigest()[:16]

    @property
    def driver_key(self) -> tuple[str, ...]:
        """The driver's columns that make this model's key: the natural key of its source contract
        (positionally: ``order_id, order_product_id`` make ``order_id, product_id``)."""
        contract = next(c for c in load_contracts().values() if c.table == self.driver)
        return contract.natural_key

    def output_name(self, column: str) -> str:
        """What the model calls its input's ``column`` (the name itself when not selected as is)."""
        return self.renames.get(column, column)


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
    key = tuple(header.get("key", ()))
    model = Model(
        table=header["table"],
        sql=sql,
        grain=header.get("grain", ""),
        key=key,
        kind=header.get("kind", INCREMENTAL),
        latest_per_key=bool(header.get("latest_per_key", False)),
        conserves=header.get("conserves"),
        driver=header.get("driver", header.get("conserves")),
        by=tuple(header.get("by", key)),
        lookups={table: tuple(columns) for table, columns in (header.get("lookups") or {}).items()},
        late_arriving=tuple(
            LateArriving(a["reason"], a["column"], a["lookup"], a.get("field", a["column"]))
            for a in header.get("late_arriving", ())
        ),
        checks=tuple(header.get("checks", ())),
        depends_on=tuple(depends),
        columns={str(k): " ".join(str(v).split()) for k, v in (header.get("columns") or {}).items()},
        indexes=tuple(tuple(i) if isinstance(i, list) else (i,) for i in header.get("indexes", ())),
        renames=_renames(tree),
    )
    _check_declaration(model, origin)
    return model


def _renames(tree: exp.Expression) -> dict[str, str]:
    """{input column: output column} of the outermost SELECT's plain column projections."""
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    renames = {}
    for projection in select.expressions if select is not None else ():
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
            renames.setdefault(inner.name, projection.alias_or_name)
    return renames


def _check_declaration(model: Model, origin: str) -> None:
    """Refuse a header that does not say how every input changes the table."""
    if model.kind not in (INCREMENTAL, FULL):
        raise ModelError(f"{origin}: kind must be {INCREMENTAL} or {FULL}, not {model.kind!r}")
    if not model.key:
        raise ModelError(f"{origin}: the header needs the table's key")
    if model.driver not in model.depends_on:
        raise ModelError(f"{origin}: driver {model.driver!r} is not a table the model reads")
    others = set(model.depends_on) - {model.driver}
    if model.latest_per_key:
        natural = [model.output_name(c) for c in model.driver_key]
        if list(model.key) != natural:
            raise ModelError(f"{origin}: the key {list(model.key)} is not the natural key "
                             f"{list(model.driver_key)} of {model.driver} (sources.yaml), which the model "
                             f"selects as {natural}")
        declared = {a.lookup for a in model.late_arriving}
    else:
        declared = set(model.lookups)
    undeclared = sorted(others - declared)
    if model.kind == INCREMENTAL and undeclared:
        what = "late_arriving" if model.latest_per_key else "lookups"
        raise ModelError(f"{origin}: declare under {what} how {', '.join(undeclared)} changes the table")


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
