"""The DuckDB -> Spark translation of models and checks (sqlglot only; no Spark needed)."""

from __future__ import annotations

import logging

import pytest
import sqlglot
from sqlglot import exp

from insightflow import Lakehouse
from insightflow.quality.checks import check_sql
from insightflow.transform import DuckDBEngine, load_models
from insightflow.transform.spark_engine import shuffle_partitions, spark_memory
from insightflow.transform.spark_sql import spark_type, table_name, to_spark, view_name


def _tables(spark_sql: str) -> set[str]:
    return {t.name for t in sqlglot.parse_one(spark_sql, read="spark").find_all(exp.Table)}


def test_schema_qualified_tables_become_flat_views_and_keep_their_alias() -> None:
    sql = to_spark(
        "WITH lines AS (SELECT * FROM raw.orders) "
        'SELECT l.order_id FROM lines AS l LEFT JOIN "curated"."customer_dim" AS c '
        "ON c.customer_id = l.order_customer_id WHERE EXISTS (SELECT 1 FROM curated.product_dim)"
    )
    assert _tables(sql) == {"lines", "raw__orders", "curated__customer_dim", "curated__product_dim"}
    assert "`curated__customer_dim` AS c" in sql
    assert "raw.orders" not in sql and "curated.customer_dim" not in sql


def test_view_names_round_trip() -> None:
    assert view_name("marts.fact_sales") == "marts__fact_sales"
    assert table_name("marts__fact_sales") == "marts.fact_sales"


def test_initcap_is_spark_native_with_no_delimiter_argument(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        sql = to_spark("SELECT initcap(trim(shipping_mode)) AS mode FROM raw.deliveries")
    assert "INITCAP(TRIM(shipping_mode))" in sql
    assert not caplog.records


def test_row_fingerprints_are_64_bit_hashes_on_spark() -> None:
    assert to_spark("SELECT hash(a IS NULL, a) AS f FROM raw.orders") == (
        "SELECT XXHASH64(a IS NULL, a) AS f FROM `raw__orders`")


def test_string_escapes_survive_for_spark() -> None:
    # Spark unescapes backslashes in string literals: '\s+' must reach it as '\\s+'.
    sql = to_spark(r"SELECT regexp_replace(trim(name), '\s+', ' ', 'g') FROM raw.products")
    assert r"REGEXP_REPLACE(TRIM(name), '\\s+', ' ')" in sql


@pytest.mark.parametrize("model", load_models(), ids=lambda m: m.table)
def test_every_model_and_its_checks_translate(model, caplog: pytest.LogCaptureFixture) -> None:
    statements = [model.sql]
    statements += [check_sql(model.table, {"previous_rows": 100, **spec}) for spec in model.checks]
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        for statement in statements:
            translated = to_spark(statement)
            assert not any("." in name for name in _tables(translated)), translated
    assert not caplog.records, [r.getMessage() for r in caplog.records]


class RecordingEngine(DuckDBEngine):
    """DuckDB, keeping every statement the runner gives it."""

    statements: list[str] = []

    def create(self, name: str, sql: str, *, materialize: bool = False) -> None:
        self.statements.append(sql)
        super().create(name, sql, materialize=materialize)

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        self.statements.append(sql)
        return super().query(sql)

    def write(self, sql, folder, order_by=()):
        self.statements.append(sql)
        return super().write(sql, folder, order_by)


def test_every_statement_of_full_and_incremental_builds_translates(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.exports import ORDERS, write_export

    monkeypatch.setattr("insightflow.transform.duckdb_engine.DuckDBEngine", RecordingEngine)
    monkeypatch.setattr("insightflow.transform.engine.ENGINES",
                        {"duckdb": "tests.transform.test_spark_sql:RecordingEngine"})
    RecordingEngine.statements = []
    lake = Lakehouse(tmp_path / "lake")
    lake.run(write_export(tmp_path / "first", {"orders": [*ORDERS, ["99", "9", "1360", "1", "0", "0", "0.1",
                                                                     "CASH", "CLOSED", "10"]]}))
    changed = [[*ORDERS[0][:3], "3", *ORDERS[0][4:]], *ORDERS[1:]]
    lake.run(write_export(tmp_path / "second", {"orders": changed}))  # merges, retries, changes
    assert len(RecordingEngine.statements) > 50
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        for statement in RecordingEngine.statements:
            translated = to_spark(statement)
            assert not any("." in name for name in _tables(translated)), translated
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_memory_sizes_in_spark_spelling() -> None:
    assert [spark_memory(m) for m in ("3GB", "512MB", "2GiB", "1.5 GB")] == ["3072m", "512m", "2048m", "1536m"]


@pytest.mark.parametrize(
    ("duckdb", "spark"),
    [("BIGINT", "BIGINT"), ("VARCHAR", "STRING"), ("DOUBLE", "DOUBLE"), ("DATE", "DATE"),
     ("BOOLEAN", "BOOLEAN"), ("TIMESTAMP", "TIMESTAMP_NTZ"), ("TIMESTAMPTZ", "TIMESTAMP")],
)
def test_duckdb_types_map_to_spark(duckdb: str, spark: str) -> None:
    assert spark_type(duckdb) == spark


def test_shuffle_partitions_follow_the_data() -> None:
    assert shuffle_partitions(10_000_000, parallelism=4) == 4  # small data: one per core
    assert shuffle_partitions(1024**3, parallelism=4) == 16  # 1 GiB: one per 64 MiB
    assert shuffle_partitions(10**15, parallelism=4) == 2000  # capped


def test_spark_s3a_settings_follow_the_lake_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from insightflow.lake.storage import LakeStorage, S3Options
    from insightflow.transform.spark_engine import HADOOP_AWS_PACKAGE, s3a_conf, spark_path

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8333")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not in any setting")
    storage = LakeStorage("s3://bucket/lake", S3Options.from_environment("aws:kms", "arn:aws:kms:eu-west-1:1:key/k"))
    conf = s3a_conf(storage)
    assert conf == {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider":
            "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:8333",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
        "spark.hadoop.fs.s3a.encryption.algorithm": "SSE-KMS",
        "spark.hadoop.fs.s3a.encryption.key": "arn:aws:kms:eu-west-1:1:key/k",
    }
    assert "not in any setting" not in str(conf)  # credentials come from the SDK's default chain
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # AWS itself: virtual-hosted style, TLS
    aws = s3a_conf(LakeStorage("s3://bucket/lake", S3Options.from_environment()))
    assert aws["spark.hadoop.fs.s3a.path.style.access"] == "false" and "spark.hadoop.fs.s3a.endpoint" not in aws
    assert spark_path("s3://bucket/lake/x.parquet") == "s3a://bucket/lake/x.parquet"
    assert HADOOP_AWS_PACKAGE == "org.apache.hadoop:hadoop-aws:3.4.1"
