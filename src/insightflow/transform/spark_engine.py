"""The Spark engine: the same SQL models on Apache Spark, locally (``local[2]``) or on a cluster.

Each table is a Spark temporary view over its Parquet files; each statement of the runner is
DuckDB-dialect SQL translated by sqlglot (``spark_sql``). Results are written to staging as
Parquet with the column names and types DuckDB writes (BIGINT -> INT64, DOUBLE, DATE, VARCHAR ->
STRING, BOOLEAN, TIMESTAMP without time zone), so the shared catalog commit cannot tell the
engines apart.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlglot.errors import SqlglotError

from insightflow.errors import ModelError, UsageError, one_line
from insightflow.lake import TableFiles
from insightflow.lake.storage import LakeStorage
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
        memory_limit: the driver's memory in local mode (``spark.driver.memory``, e.g. ``3g``),
            unless ``conf`` sets it; on a cluster, size executors with ``conf``.
        temp_directory: where Spark spills (``spark.local.dir``), unless ``conf`` sets it.
        storage: the lake's storage; on an object store Spark reads and writes it through S3A
            (``s3a_conf``: the hadoop-aws jars must be on the cluster, see the README).
        compression: Parquet codec of the staged files (the DuckDB engine's default: zstd).
        session: an existing SparkSession to work in (tests share one); the engine works in a
            new session of it (own temporary views and settings) and leaves it running.
    """

    name = "spark"
    label = "Spark"

    def __init__(
        self,
        *,
        master: str | None = None,
        conf: dict[str, str] | None = None,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
        compression: str = "zstd",
        storage: LakeStorage | None = None,
        session: Any = None,
    ) -> None:
        require_spark()
        self.compression = compression
        self.storage = storage or LakeStorage("/")
        self.conf = {**(s3a_conf(self.storage) if self.storage.remote else {}), **(conf or {})}
        self._views: list[str] = []
        self._cached: dict[str, DataFrame] = {}
        self._input_bytes = 0
        if session is not None:
            self._owns_session = False
            self.spark = session.newSession()
        else:
            self._owns_session = SparkSession.getActiveSession() is None
            start_conf = dict(self.conf)
            if memory_limit:
                start_conf.setdefault("spark.driver.memory", spark_memory(memory_limit))
            if temp_directory:
                start_conf.setdefault("spark.local.dir", temp_directory)
            self.spark = start_session(master or DEFAULT_MASTER, start_conf)
        settings = {**_SETTINGS, "spark.sql.parquet.compression.codec": compression, **self.conf}
        for key, value in settings.items():
            if self.spark.conf.isModifiable(key):  # session settings; the rest were set at start
                self.spark.conf.set(key, value)
        _quiet_query_errors()
        self._parallelism = self.spark.sparkContext.defaultParallelism

    # --- the Engine protocol ----------------------------------------------------------------

    def register(self, table: TableFiles, name: str | None = None) -> None:
        with self._errors():
            if table.files:
                frame = self.spark.read.option("mergeSchema", "true").parquet(*map(spark_path, table.files))
                self._input_bytes += sum(self.storage.size(f) for f in table.files)
                # older files may lack columns added since (schema drift): read them as NULL
                for column, kind in table.columns:
                    if column not in frame.columns:
                        frame = frame.withColumn(column, F.lit(None).cast(spark_type(kind)))
            else:
                if not table.columns:
                    raise ModelError(f"table {table.name} has neither data files nor columns")
                schema = ", ".join(f"`{c}` {spark_type(t)}" for c, t in table.columns)
                frame = self.spark.createDataFrame([], schema)
            self._view(frame, name or table.name)

    def create(self, name: str, sql: str, *, materialize: bool = False) -> None:
        self._size_shuffles()
        with self._errors():
            frame = self.spark.sql(to_spark(sql))
            self.drop(name)
            if materialize:
                # computed once: Spark would otherwise recompute the query at each reference
                frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
                self._cached[name] = frame
            self._view(frame, name)

    def drop(self, name: str) -> None:
        cached = self._cached.pop(name, None)
        if cached is not None:
            cached.unpersist()

    def columns(self, sql: str) -> list[str]:
        with self._errors():
            return self.spark.sql(to_spark(sql)).columns

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        with self._errors():
            frame = self.spark.sql(to_spark(sql))
            return frame.columns, [tuple(row) for row in frame.collect()]

    def write(self, sql: str, folder: str, order_by: tuple[str, ...] = ()) -> list[str]:
        """Write as one Parquet file under ``folder``; Spark writes a folder of part files, whose
        part is moved to where the catalog commit expects it (``<table>/part-00000.parquet``)."""
        self._size_shuffles()
        storage = self.storage
        scratch = f"{folder}.spark-{uuid.uuid4().hex[:8]}"
        with self._errors():
            single = self.spark.sql(to_spark(sql)).coalesce(1)
            if order_by:  # one partition: a local sort, no range-partitioning job
                single = single.sortWithinPartitions(*order_by)
            single.write.mode("overwrite").parquet(spark_path(scratch))
        storage.makedirs(folder)
        staged = []
        for index, part in enumerate(p for p in storage.list(scratch, ".parquet") if "/part-" in p):
            target = f"{folder}/part-{index:05d}.parquet"
            storage.move(part, target)
            staged.append(target)
        storage.delete_tree(scratch)
        self._input_bytes += sum(storage.size(f) for f in staged)
        return staged

    def close(self) -> None:
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        if self._owns_session:
            self.spark.stop()

    # --- helpers ----------------------------------------------------------------------------

    def _view(self, frame: DataFrame, name: str) -> None:
        frame.createOrReplaceTempView(view_name(name))
        self._views.append(view_name(name))

    def _size_shuffles(self) -> None:
        if "spark.sql.shuffle.partitions" not in self.conf:
            partitions = shuffle_partitions(self._input_bytes, self._parallelism)
            self.spark.conf.set("spark.sql.shuffle.partitions", str(partitions))

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (PySparkException, Py4JError, SqlglotError) as error:
            raise ModelError(self._one_line(error)) from None

    def _one_line(self, error: Exception) -> str:
        """The first line of a Spark error, with view names spelled as the tables they stand for."""
        message = one_line(error, first_line=True, limit=None)
        for view in sorted(self._views, key=len, reverse=True):
            message = message.replace(view, table_name(view))
        return one_line(message)  # cut where every other engine error is


#: The hadoop-aws release matching the Hadoop client PySpark 4 bundles (3.4.1): S3A, on AWS SDK v2.
HADOOP_AWS_PACKAGE = "org.apache.hadoop:hadoop-aws:3.4.1"


def spark_path(location: str) -> str:
    """A location as Spark's Hadoop filesystems take it: ``s3://`` is S3A's ``s3a://``."""
    return "s3a://" + location.removeprefix("s3://") if location.startswith("s3://") else location


def s3a_conf(storage: LakeStorage) -> dict[str, str]:
    """Spark's S3A settings for the lake's object store, derived from the same settings as the rest
    of InsightFlow: endpoint and region from ``AWS_ENDPOINT_URL``/``AWS_REGION`` (path-style
    access for an endpoint other than AWS's), credentials from the AWS SDK's default chain
    (environment variables, then the instance role: never in the configuration), server-side
    encryption from ``[lake] s3_sse``. The hadoop-aws jars are the cluster's (or
    ``spark.jars.packages`` = ``HADOOP_AWS_PACKAGE`` where Maven is reachable)."""
    s3 = storage.s3
    conf = {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider":
            "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider",
        "spark.hadoop.fs.s3a.path.style.access": "true" if s3.endpoint_url else "false",
    }
    if s3.endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = s3.endpoint_url
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(s3.endpoint_url.startswith("https")).lower()
    if s3.region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = s3.region
    if s3.sse:
        conf["spark.hadoop.fs.s3a.encryption.algorithm"] = {"AES256": "SSE-S3", "aws:kms": "SSE-KMS"}[s3.sse]
    if s3.sse_kms_key_id:
        conf["spark.hadoop.fs.s3a.encryption.key"] = s3.sse_kms_key_id
    return conf


def spark_memory(limit: str) -> str:
    """A memory size as DuckDB takes it (``3GB``, ``512MB``) in Spark's spelling: whole MiB."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b", limit.strip().lower())
    if not match:
        raise UsageError(f"{limit!r} is not a memory size (e.g. 3GB, 512MB)")
    factor = {"": 1 / 2**20, "k": 1 / 2**10, "m": 1, "g": 2**10, "t": 2**20}[match[2]]
    return f"{max(1, round(float(match[1]) * factor))}m"


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
