"""The Spark engine: the golden model cases, its staged files, its errors and its settings.

Tests marked ``spark`` share one SparkSession (the ``spark`` fixture; each engine works in a new
session of it, with its own views). They are skipped on a machine without PySpark or Java, and
fail instead in CI, like the tests needing the reference export.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from insightflow import Lakehouse
from insightflow.cli import app
from insightflow.errors import ModelError, UsageError
from insightflow.transform import load_models, spark_engine
from insightflow.transform.engine import create_engine
from tests.transform import test_golden_models as golden


def require_spark_runtime() -> None:
    """Skip without PySpark or Java on a user's machine; fail in CI."""
    try:
        spark_engine.require_spark()
    except UsageError as error:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{error} (the Spark tests must not be skipped in CI)")
        pytest.skip(str(error))


@functools.cache
def _shared_session():  # one JVM for the whole test session, whichever module asks first
    return spark_engine.start_session("local[2]", {"spark.sql.shuffle.partitions": "2"})


@pytest.fixture(scope="session")
def spark():
    require_spark_runtime()
    return _shared_session()


# --- without Spark: clear usage errors -------------------------------------------------------


def test_spark_engine_without_pyspark_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_engine, "SparkSession", None)
    with pytest.raises(UsageError, match=r"needs PySpark: pip install 'insightflow\[spark\]'") as caught:
        create_engine("spark")
    assert "\n" not in str(caught.value)


def test_spark_engine_without_java_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_engine, "SparkSession", object())  # as if PySpark were installed
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(UsageError, match="needs a Java 17 runtime") as caught:
        create_engine("spark")
    assert "\n" not in str(caught.value)


def test_spark_options_are_refused_by_duckdb() -> None:
    with pytest.raises(UsageError, match="engine duckdb does not take these options"):
        create_engine("duckdb", master="local[2]")


def test_cli_passes_spark_master_and_settings_to_the_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = []

    def fake_run(lakehouse, source, *, engine, engine_options, **options):
        calls.append((engine, engine_options))
        raise UsageError("stop here")

    monkeypatch.setattr("insightflow.lakehouse.Lakehouse.run", fake_run)
    args = ["run", "--lake", str(tmp_path), "--engine", "spark", "--spark-master", "spark://head:7077",
            "--spark-conf", "spark.executor.memory=8g", "--spark-conf", "spark.sql.shuffle.partitions=64"]
    result = CliRunner().invoke(app, args)  # `main` turns the error into one line; `app` raises it
    assert str(result.exception) == "stop here"
    assert calls == [("spark", {"master": "spark://head:7077",
                                "conf": {"spark.executor.memory": "8g", "spark.sql.shuffle.partitions": "64"}})]
    bad = CliRunner().invoke(app, ["run", "--lake", str(tmp_path), "--engine", "spark", "--spark-conf", "no-equals"])
    assert isinstance(bad.exception, UsageError)
    assert str(bad.exception) == "--spark-conf takes KEY=VALUE, got 'no-equals'"
    assert len(calls) == 1


# --- on Spark ---------------------------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.parametrize("case_file", golden.GOLDEN, ids=lambda p: p.stem)
def test_model_matches_golden_case_on_spark(case_file: Path, tmp_path: Path, spark) -> None:
    golden.check_golden_case(case_file, tmp_path, spark_engine.SparkEngine(session=spark))


@pytest.mark.spark
def test_session_settings_fit_the_job(spark) -> None:
    engine = spark_engine.SparkEngine(session=spark)
    try:
        conf = engine.spark.conf
        assert conf.get("spark.sql.adaptive.enabled") == "true"
        assert conf.get("spark.sql.parquet.compression.codec") == "zstd"
        assert conf.get("spark.sql.parquet.outputTimestampType") == "TIMESTAMP_MICROS"
        assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"
    finally:
        engine.close()


@pytest.mark.spark
def test_staged_parquet_has_duckdb_types(spark, tmp_path: Path) -> None:
    engine = spark_engine.SparkEngine(session=spark)
    try:
        (staged,) = engine.write(
            "SELECT CAST(1 AS BIGINT) AS id, CAST(1.5 AS DOUBLE) AS price, DATE '2017-01-02' AS day, "
            "'x' AS name, true AS late, CAST('2026-01-01 10:00:00' AS TIMESTAMP) AS at", tmp_path / "t"
        )
    finally:
        engine.close()
    assert staged == str(tmp_path / "t" / "part-00000.parquet")
    schema = pq.read_schema(staged)
    assert [schema.field(n).type for n in schema.names] == [
        pa.int64(), pa.float64(), pa.date32(), pa.string(), pa.bool_(), pa.timestamp("us")
    ]
    assert pq.ParquetFile(staged).metadata.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_table(staged).to_pylist()[0]["at"] == datetime.datetime(2026, 1, 1, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]  # Spark's scratch folder is gone


@pytest.mark.spark
def test_query_returns_plain_rows_and_one_line_errors(spark, tmp_path: Path) -> None:
    engine = spark_engine.SparkEngine(session=spark)
    try:
        table = golden._input_table("raw.products", [{"product_id": 7, "product_name": "Watch"}], tmp_path)
        engine.register(table)
        assert engine.query('SELECT "product_id", product_name FROM "raw"."products"') == (
            ["product_id", "product_name"], [(7, "Watch")]
        )
        with pytest.raises(ModelError) as caught:
            engine.query("SELECT no_such_column FROM raw.products")
    finally:
        engine.close()
    message = str(caught.value)
    assert "\n" not in message and "no_such_column" in message
    assert "raw.products" in message or "raw__products" not in message


@pytest.mark.spark
def test_a_model_failing_on_spark_fails_the_run_and_commits_nothing(
    spark, lake: Lakehouse, small_export: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake.run(small_export)  # a good DuckDB run: what readers see must not change
    before = {t.name: t.snapshot_id for t in lake.tables()}
    kpis = lake.kpis()
    # product_dim is the second model: customer_dim is built and staged before it fails.
    broken = tuple(
        dataclasses.replace(m, sql=m.sql.replace("name AS product_name", "no_such_column AS product_name", 1))
        if m.table == "curated.product_dim" else m
        for m in load_models()
    )
    assert [m.table for m in broken][:2] == ["curated.customer_dim", "curated.product_dim"]
    monkeypatch.setattr("insightflow.transform.models.load_models", lambda: broken)
    with pytest.raises(ModelError) as caught:
        lake.run(small_export, engine="spark", engine_options={"session": spark})
    message = str(caught.value)
    assert "\n" not in message and len(message) <= 400
    assert "SQLQueryContextLogger" not in capsys.readouterr().err  # no JSON stack trace from PySpark
    assert message.startswith("model curated.product_dim failed on Spark: ")
    assert "no_such_column" in message
    after = {t.name: t.snapshot_id for t in lake.tables() if not t.name.startswith("ops.")}
    assert after == {n: s for n, s in before.items() if not n.startswith("ops.")}
    assert lake.kpis() == kpis
    last = lake.history()[-1]
    assert (last.status, last.engine) == ("failed", "spark") and "no_such_column" in last.error
    assert not lake.catalog.storage.list_tree(lake.catalog.storage.staging)
