"""The Spark engine: the same SQL models on Apache Spark, locally (``local[2]``) or on a cluster.

Each table is a Spark temporary view over its Parquet files; each model is the DuckDB-dialect SQL
of ``wrapped_sql`` translated by sqlglot (``spark_sql``). A built model is written to staging as
Parquet with the column names and types DuckDB writes (BIGINT -> INT64, DOUBLE, DATE, VARCHAR ->
STRING, BOOLEAN, TIMESTAMP without time zone), so the shared catalog commit cannot tell the
engines apart, and the models after it read the staged files back.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
import uuid
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlglot.errors import SqlglotError

from insightflow.errors import ModelError, UsageError
from insightflow.lake import TableFiles
from insightflow.lake.catalog import file_bytes
from insightflow.transform.engine import BuildResult
from insightflow.transform.models import (
    DISPOSITION,
    INVALID,
    REASON,
    SUPERSEDED,
    Model,
    plain_sql,
    wrapped_sql,
)
from insightflow.transform.spark_sql import spark_type, table_name, to_spark, view_name

try:  # PySpark is an optional extra: `pip install 'insightflow[spark]'`
    from py4j.protocol import Py4JError
    from pyspark import StorageLevel
    from pyspark.errors import PySparkException
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import functions as F
except ImportError:  # pragma: no cover - exercised only without the extra
    SparkSession = None  # type: ignore[assignment,misc]

DEFAULT_MASTER = "local[2]"
#: Input bytes per shuffle partition before adaptive execution coalesces small ones.
BYTES_PER_PARTITION = 64 * 1024 * 1024
MAX_SHUFFLE_PARTITIONS = 2000

# Settings that make Spark write what the DuckDB engine writes and behave the same on every version.
_SETTINGS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.ansi.enabled": "true",  # errors on bad casts and overflow, like DuckDB
    "spark.sql.session.timeZone": "UTC",
    # DuckDB's TIMESTAMP has no time zone: Parquet INT64 micros, not adjusted to UTC (Iceberg
    # `timestamp`, not `timestamptz`); Spark's INT96 default is refused by PyIceberg.
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    # Quarantined rows keep their NULL values in `record`, as DuckDB's to_json does.
    "spark.sql.jsonGenerator.ignoreNullFields": "false",
    "spark.sql.catalogImplementation": "in-memory",
}
# Local mode only: never bind to a network interface.
_LOCAL_SETTINGS: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "2g",  # the driver is the executor in local mode; 1g spills at 10x
}


def shuffle_partitions(input_bytes: int, parallelism: int) -> int:
    """Shuffle partitions for ``input_bytes`` of Parquet: at least one per core, one per 64 MiB.

    Adaptive execution then coalesces the partitions that turn out small.
    """
    wanted = math.ceil(input_bytes / BYTES_PER_PARTITION)
    return max(parallelism, min(wanted, MAX_SHUFFLE_PARTITIONS))


def require_spark() -> None:
    """Raise a one-line UsageError unless PySpark and a Java runtime are installed."""
    if SparkSession is None:
        raise UsageError(
            "the spark engine needs PySpark: pip install 'insightflow[spark]' (and Java 17)"
        )
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise UsageError(
            "the spark engine needs a Java 17 runtime: install one (e.g. apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )


class SparkEngine:
    """Runs the models on a Spark session.

    Args:
        master: Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``, ...); ignored
            when ``session`` is given.
        conf: extra Spark settings (``spark-conf k=v``); they win over InsightFlow's.
        compression: Parquet codec of the staged files (the DuckDB engine's default: zstd).
        session: an existing SparkSession to work in (tests share one); the engine works in a
            new session of it (own temporary views and settings) and leaves it running.
    """

    name = "spark"

    def __init__(
        self,
        *,
        master: str | None = None,
        conf: dict[str, str] | None = None,
        compression: str = "zstd",
        session: Any = None,
    ) -> None:
        require_spark()
        self.compression = compression
        self.conf = dict(conf or {})
        self._views: list[str] = []
        self._cached: list[DataFrame] = []
        self._input_bytes = 0
        if session is not None:
            self._owns_session = False
            self.spark = session.newSession()
        else:
            self._owns_session = SparkSession.getActiveSession() is None
            self.spark = start_session(master or DEFAULT_MASTER, self.conf)
        settings = {**_SETTINGS, "spark.sql.parquet.compression.codec": compression, **self.conf}
        for key, value in settings.items():
            if self.spark.conf.isModifiable(key):  # session settings; the rest were set at start
                self.spark.conf.set(key, value)
        _quiet_query_errors()
        self._parallelism = self.spark.sparkContext.defaultParallelism

    # --- the Engine protocol ----------------------------------------------------------------

    def register(self, table: TableFiles) -> None:
        if table.files:
            frame = self.spark.read.option("mergeSchema", "true").parquet(*table.files)
            self._input_bytes += file_bytes(table.files)
        else:
            if not table.columns:
                raise ModelError(f"table {table.name} has neither data files nor columns")
            schema = ", ".join(f"`{c}` {spark_type(t)}" for c, t in table.columns)
            frame = self.spark.createDataFrame([], schema)
        frame.createOrReplaceTempView(view_name(table.name))
        self._views.append(view_name(table.name))

    def build(self, model: Model, staging: Path) -> BuildResult:
        started = time.perf_counter()
        self._size_shuffles()
        try:
            # The model's rows are computed once and cached: every step below reads them (Spark
            # would recompute a query, or a CTE, at each reference; DuckDB materialises it).
            rows = self._cache(self.spark.sql(to_spark(model.sql)))
            columns = rows.columns
            model_view = view_name(model.table) + "__model"
            rows.createOrReplaceTempView(model_view)
            self._views.append(model_view)
            source = f"SELECT * FROM {model_view}"
            # Newest-load-wins ranking is a window over every row: run it only when some key
            # really occurs more than once (as the DuckDB engine does).
            if REASON in columns and model.latest_per_key and self._has_repeated_keys(model, model_view):
                everything = self._cache(self.spark.sql(to_spark(wrapped_sql(model, columns, source))))
            elif REASON in columns:
                everything = self.spark.sql(to_spark(plain_sql(replace(model, sql=source))))
            else:  # an aggregate mart: every row is published
                everything = self.spark.sql(to_spark(wrapped_sql(model, columns, source)))
            # Counting first fills the caches in parallel; the single-file writes then read them.
            counts = {
                row[0]: row[1]
                for row in everything.groupBy(F.coalesce(F.col(DISPOSITION), F.lit(""))).count().collect()
            }
            published = [c for c in columns if c not in (REASON, INVALID)]
            table_files = self._write(
                everything.where(F.col(DISPOSITION).isNull()).select(*published),
                staging / model.table,
            )
            quarantine_files = []
            if REASON in columns:
                quarantine_files = self._write(
                    self._quarantine(model, columns, everything),
                    staging / model.quarantine_table,
                    order_by=("load_id", "source_line"),
                )
        except (PySparkException, Py4JError, SqlglotError) as error:
            raise ModelError(f"model {model.table} failed on Spark: {self._one_line(error)}") from None
        finally:
            self._release()
        # The models after this one (and its checks) read what was staged, as DuckDB reads its table.
        self.spark.read.parquet(*map(str, table_files)).createOrReplaceTempView(view_name(model.table))
        self._views.append(view_name(model.table))
        self._input_bytes += file_bytes(map(str, table_files))
        input_rows = None
        if model.conserves:
            input_rows = self.query(f"SELECT count(*) FROM {model.conserves}")[1][0][0]
        reasons = {r: n for r, n in counts.items() if r not in ("", SUPERSEDED)}
        return BuildResult(
            table=model.table,
            quarantine_table=model.quarantine_table if quarantine_files else None,
            published_files=table_files,
            quarantine_files=quarantine_files,
            rows=counts.get("", 0),
            quarantined=sum(reasons.values()),
            superseded=counts.get(SUPERSEDED, 0),
            input_rows=input_rows,
            seconds=time.perf_counter() - started,
            reasons=reasons,
        )

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        try:
            frame = self.spark.sql(to_spark(sql))
            return frame.columns, [tuple(row) for row in frame.collect()]
        except (PySparkException, Py4JError, SqlglotError) as error:
            raise ModelError(f"query failed on Spark: {self._one_line(error)}") from None

    def close(self) -> None:
        self._release()
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        if self._owns_session:
            self.spark.stop()

    # --- helpers ----------------------------------------------------------------------------

    def _size_shuffles(self) -> None:
        if "spark.sql.shuffle.partitions" not in self.conf:
            partitions = shuffle_partitions(self._input_bytes, self._parallelism)
            self.spark.conf.set("spark.sql.shuffle.partitions", str(partitions))

    def _quarantine(self, model: Model, columns: list[str], everything: DataFrame) -> DataFrame:
        """The quarantined rows in the columns of DuckDBEngine._quarantine_sql."""
        values = [c for c in columns if not c.startswith("_")]
        record = F.to_json(F.struct(*[F.col(f"`{c}`") for c in values]))
        invalid = F.col(INVALID) if INVALID in columns else F.lit(None).cast("string")
        disposition = F.col(DISPOSITION)
        return (
            everything.where(disposition.isNotNull() & (disposition != SUPERSEDED))
            .select(
                F.lit(model.table).alias("table_name"),
                disposition.alias("reason"),
                F.col("_source_file").alias("source_file"),
                F.col("_source_line").alias("source_line"),
                F.col("_load_id").alias("load_id"),
                record.alias("record"),
                invalid.alias("invalid"),
            )
        )

    def _write(self, frame: DataFrame, folder: Path, order_by: tuple[str, ...] = ()) -> list[Path]:
        """Write ``frame`` as one Parquet file under ``folder``; returns the staged file(s).

        Spark writes a folder of part files; the part file is moved to where the catalog commit
        expects it, next to DuckDB's (``<table>/part-00000.parquet``).
        """
        scratch = folder.parent / f".spark-{folder.name}-{uuid.uuid4().hex[:8]}"
        single = frame.coalesce(1)
        if order_by:  # one partition: a local sort, no range-partitioning job
            single = single.sortWithinPartitions(*order_by)
        single.write.mode("overwrite").parquet(str(scratch))
        folder.mkdir(parents=True, exist_ok=True)
        staged = []
        for index, part in enumerate(sorted(scratch.glob("part-*.parquet"))):
            target = folder / f"part-{index:05d}.parquet"
            shutil.move(part, target)
            staged.append(target)
        shutil.rmtree(scratch, ignore_errors=True)
        return staged

    def _has_repeated_keys(self, model: Model, view: str) -> bool:
        keys = ", ".join(f"`{k}`" for k in model.key)
        repeated = self.spark.sql(
            f"SELECT 1 FROM `{view}` WHERE `{REASON}` IS NULL GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"
        )
        return bool(repeated.collect())

    def _cache(self, frame: DataFrame) -> DataFrame:
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(frame)
        return frame

    def _release(self) -> None:
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()

    def _one_line(self, error: Exception) -> str:
        """The first line of a Spark error, with view names spelled as the tables they stand for."""
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        for view in sorted(self._views, key=len, reverse=True):
            message = message.replace(view, table_name(view))
        return " ".join(message.split())[:300]


def start_session(master: str = DEFAULT_MASTER, conf: dict[str, str] | None = None) -> Any:
    """A SparkSession with InsightFlow's settings (``conf`` wins); reuses a running one."""
    require_spark()
    conf = conf or {}
    builder = SparkSession.builder.master(master).appName("insightflow")
    settings = dict(_SETTINGS)
    if master.startswith("local"):
        settings |= _LOCAL_SETTINGS
        # Read by the JVM at start: bind to loopback instead of guessing a network interface.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Spark's default log4j profile prints its banner and INFO-level start-up lines.
        settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={_log4j_config()}"
    for key, value in {**settings, **conf}.items():
        builder = builder.config(key, value)
    try:
        with warnings.catch_warnings():  # PySpark warns about pandas versions it never uses here
            warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
            session = builder.getOrCreate()
    except (PySparkException, Py4JError, OSError) as error:  # the JVM did not start (Java, master)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"could not start Spark ({master}): {first}") from None
    session.sparkContext.setLogLevel("WARN")
    return session


def _quiet_query_errors() -> None:
    """PySpark 4 logs every failed query with its JVM stack trace as JSON on stderr; the engine
    reports the failure itself, on one line (a ModelError), so those loggers keep quiet."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # PySpark 3.5 has no such logging
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex{short}
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""


def _log4j_config() -> Path:
    """Spark's log settings (WARN, one line per message), in a file the JVM can read at start."""
    path = Path(tempfile.gettempdir()) / "insightflow-spark-log4j2.properties"
    if not path.exists() or path.read_text("utf-8") != _LOG4J:
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(_LOG4J, "utf-8")
        scratch.replace(path)  # atomic: concurrent runs never read half a file
    return path
