"""The star schema served to BI tools on a real PostgreSQL server, read with Debian's psql.

Each test gets a database of its own on the session's server (``tests/servers.py``); the lake is
run and synced through the CLI, as a deployment would, and the served figures are read back with
``psql`` — a client no one here wrote — and compared with ``insightflow kpis``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from insightflow import Lakehouse
from insightflow.bi.sync import _changes
from insightflow.generate.daily import generate_days
from tests.exports import write_export
from tests.servers import PostgreSQL

pytestmark = pytest.mark.bi

CLI = [sys.executable, "-m", "insightflow.cli"]
SERVED = ("curated.customer_dim", "curated.product_dim", "curated.order_dim", "curated.delivery_dim",
          "marts.fact_sales", "marts.order_summary")
KEYS = {"curated.customer_dim": "customer_id", "curated.product_dim": "product_id",
        "curated.order_dim": "order_id, product_id", "curated.delivery_dim": "order_id",
        "marts.fact_sales": "sales_key", "marts.order_summary": "order_id"}


class Served:
    """A database of the test server that a lake is served in, and the CLI pointed at both."""

    def __init__(self, postgres: PostgreSQL, lake: Path) -> None:
        self.postgres, self.lake = postgres, lake
        self.database = postgres.create_database()
        self.url = postgres.url(self.database, driver="postgresql")

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "INSIGHTFLOW_BI_URL": self.url, "INSIGHTFLOW_RETRY_DELAY": "0.1", **extra}

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args, "--lake", str(self.lake)], capture_output=True, text=True,
                              env=env or self.env(), timeout=600)

    def ok(self, *args: str) -> subprocess.CompletedProcess:
        out = self.cli(*args)
        assert out.returncode == 0, out.stderr
        return out

    def rows(self, sql: str, user: str = "postgres") -> list[dict[str, str]]:
        out = self.postgres.query(sql, self.database, user)
        assert out.returncode == 0, out.stderr
        return list(csv.DictReader(io.StringIO(out.stdout)))

    def refused(self, sql: str, user: str) -> str:
        out = self.postgres.query(sql, self.database, user)
        assert out.returncode != 0, f"{user} was allowed: {sql}"
        return out.stderr

    def served_run(self) -> str:
        return self.rows("SELECT run_id FROM kpi.served_run")[0]["run_id"]

    def dump(self) -> dict[str, list[tuple]]:
        """Every served table's rows, in key order (as psql prints them)."""
        return {name: [tuple(r.values()) for r in self.rows(f"SELECT * FROM {name} ORDER BY {KEYS[name]}")]
                for name in SERVED}

    def kpi_json(self, name: str = "summary", *args: str) -> object:
        return json.loads(self.ok("kpis", name, "--format", "json", *args).stdout)


@pytest.fixture
def served(postgres: PostgreSQL, tmp_path: Path) -> Served:
    return Served(postgres, tmp_path / "lake")


def _close(psql_value: str, lake_value: object) -> bool:
    if isinstance(lake_value, int | float) and not isinstance(lake_value, bool):
        return math.isclose(float(psql_value), float(lake_value), rel_tol=1e-9, abs_tol=0.005)
    return psql_value == str(lake_value)


@pytest.mark.reference
def test_reference_figures_to_the_cent_through_psql(served: Served, reference_dir: Path) -> None:
    out = served.ok("run", "--source", str(reference_dir))
    assert "BI database serves run" in out.stdout and "full sync" in out.stdout

    summary = served.rows("SELECT * FROM kpi.summary")[0]
    # The reference figures of docs/DATA.md, read from the serving database
    assert round(float(summary["gross_sales"]), 2) == 32_314_681.23
    assert round(float(summary["net_sales"]), 2) == 29_052_343.22
    assert round(float(summary["net_profit"]), 2) == 3_485_038.74
    assert round(float(summary["discount"]), 2) == 3_262_338.00
    assert int(summary["products_ordered"]) == 334_107
    assert int(summary["orders_placed"]) == 65_752
    assert int(summary["late_deliveries"]) == 33_423
    assert round(float(summary["avg_shipping_days"]), 2) == 3.93
    rates = {mode: round(rate * 100, 1) for mode, rate in json.loads(summary["on_time_rate_by_mode"]).items()}
    assert rates == {"First Class": 46.2, "Same Day": 49.7, "Second Class": 46.4, "Standard Class": 53.3}
    # ... and equal to `insightflow kpis`, to the cent
    lake = served.kpi_json()
    for name, value in lake.items():
        if name == "on_time_rate_by_mode":
            assert {m: round(r, 6) for m, r in json.loads(summary[name]).items()} == value
        else:
            assert round(float(summary[name]), 2) == round(value, 2), name

    # every KPI's view equals `insightflow kpis NAME`, row by row
    views = {r["table_name"] for r in served.rows(
        "SELECT table_name FROM information_schema.views WHERE table_schema = 'kpi'")}
    assert {"lines", "served_run", "on_time_by_mode", "profit_margin_by_category", "top_products",
            "shipping_days_by_month", "sales_by_segment", "order_size_mix", "summary"} <= views
    for name in sorted(views - {"lines", "served_run", "summary"}):
        psql_rows, lake_rows = served.rows(f"SELECT * FROM kpi.{name}"), served.kpi_json(name)
        assert len(psql_rows) == len(lake_rows) > 0, name
        for mine, theirs in zip(psql_rows, lake_rows, strict=True):
            assert mine.keys() == theirs.keys(), name
            assert all(_close(mine[c], theirs[c]) for c in mine), (name, mine, theirs)

    # BI-style queries a tool would send: by segment and month, and one shipping mode
    by_month = served.rows("""
        SELECT customer_segment, date_trunc('month', shipping_date)::date AS month, sum(net_sales) AS net_sales,
               count(DISTINCT order_id) AS orders
        FROM kpi.lines GROUP BY 1, 2 ORDER BY 1, 2""")
    lake_rows = Lakehouse(served.lake).sql("""
        SELECT o.customer_segment, CAST(date_trunc('month', f.shipping_date) AS DATE) AS month,
               sum(f.net_sales) AS net_sales, count(DISTINCT f.order_id) AS orders
        FROM marts.fact_sales AS f JOIN marts.order_summary AS o ON o.order_id = f.order_id
        GROUP BY 1, 2 ORDER BY 1, 2""")[1]
    assert len(by_month) == len(lake_rows) > 100
    for mine, (segment, month, net_sales, orders) in zip(by_month, lake_rows, strict=True):
        assert (mine["customer_segment"], mine["month"], int(mine["orders"])) == (segment, str(month), orders)
        assert round(float(mine["net_sales"]), 2) == round(net_sales, 2)
    same_day = served.rows("""
        SELECT sum(gross_sales) AS gross_sales, sum(profit) AS net_profit FROM kpi.lines
        WHERE shipping_mode = 'Same Day'""")[0]
    lake = served.kpi_json("summary", "--shipping-mode", "Same Day")
    assert round(float(same_day["gross_sales"]), 2) == lake["gross_sales"]
    assert round(float(same_day["net_profit"]), 2) == lake["net_profit"]
    status = served.ok("bi", "status", "--check").stdout
    assert ": current" in status and served.served_run() in status


def test_reader_role_reads_everything_and_writes_nothing(served: Served, small_export: Path) -> None:
    served.ok("run", "--source", str(small_export))
    served.postgres.psql("CREATE ROLE analyst LOGIN; GRANT insightflow_reader TO analyst; "
                         "CREATE ROLE auditor LOGIN; GRANT insightflow_pii TO auditor", served.database)
    relations = served.rows("""SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
                               WHERE table_schema IN ('curated', 'marts', 'kpi')""")
    names = sorted(r["name"] for r in relations)
    assert set(SERVED) < set(names) and "kpi.summary" in names
    for name in names:
        assert served.rows(f"SELECT count(*) AS n FROM {name}", user="analyst")
    # personal data is masked for readers, shown to the PII group and nowhere else readable
    customer = served.rows("SELECT * FROM curated.customer_dim ORDER BY customer_id LIMIT 1", user="analyst")[0]
    assert {customer[c] for c in ("customer_fname", "customer_lname", "customer_city", "customer_zipcode")} \
        <= {"***", ""}
    assert customer["customer_segment"] not in ("", "***") and customer["customer_state"] != "***"
    unmasked = served.rows("SELECT * FROM curated.customer_dim ORDER BY customer_id LIMIT 1", user="auditor")[0]
    assert unmasked["customer_lname"] not in ("", "***")
    assert "permission denied" in served.refused("SELECT * FROM insightflow_private.customer_dim", "analyst")
    for statement in [
        "INSERT INTO marts.fact_sales (sales_key) VALUES ('x')",
        "UPDATE marts.order_summary SET profit = 0",
        "DELETE FROM curated.product_dim",
        "TRUNCATE marts.fact_sales",
        "UPDATE insightflow_bi.served SET run_id = 'forged'",
        "CREATE TABLE marts.mine (x int)",
        "CREATE TABLE public.mine (x int)",
        "CREATE VIEW kpi.mine AS SELECT 1",
        "CREATE SCHEMA mine",
        "ALTER TABLE marts.fact_sales ADD COLUMN x int",
        "DROP VIEW kpi.summary",
    ]:
        assert "permission denied" in served.refused(statement, "analyst") or \
            "must be owner" in served.refused(statement, "analyst"), statement


def test_incremental_sync_sends_what_changed_and_equals_a_full_sync(served: Served, postgres: PostgreSQL,
                                                                     tmp_path: Path) -> None:
    days = generate_days(tmp_path / "days", days=3, scale=0.05).folders
    served.ok("run", "--source", str(days[0]))
    first = served.rows("SELECT * FROM insightflow_bi.syncs")
    assert [r["mode"] for r in first] == ["full"]
    for day in days[1:]:
        out = served.ok("run", "--source", str(day))
        assert "incremental sync" in out.stdout
    syncs = served.rows("SELECT mode, rows_sent FROM insightflow_bi.syncs ORDER BY started_at")
    assert [r["mode"] for r in syncs] == ["full", "incremental", "incremental"]
    assert all(0 < int(r["rows_sent"]) < int(syncs[0]["rows_sent"]) / 5 for r in syncs[1:])
    incremental = served.dump()

    other = Served(postgres, served.lake)  # a fresh database, synced whole from the same lake
    out = other.ok("bi", "sync")
    assert "full sync" in out.stdout
    assert other.dump() == incremental
    # the same figures (sums of doubles in another physical row order: equal to the cent)
    cents = "SELECT round(gross_sales::numeric, 2), round(net_profit::numeric, 2), orders_placed FROM kpi.summary"
    assert served.rows(cents) == other.rows(cents)
    assert served.ok("bi", "sync").stdout.strip().endswith("already")

    # a rollback republishes, in the lake and in the BI database
    lake = Lakehouse(served.lake)
    first = lake.snapshots("marts.fact_sales")[0]["snapshot_id"]
    out = served.ok("rollback", "marts.fact_sales", str(first))
    assert "BI database serves run" in out.stdout and "incremental sync" in out.stdout
    assert served.served_run() == lake.history()[-1].run_id
    assert len(served.rows("SELECT sales_key FROM marts.fact_sales")) == \
        lake.sql("SELECT count(*) FROM marts.fact_sales")[1][0][0]


def test_a_served_run_whose_snapshots_expired_is_resynced_whole(served: Served, tmp_path: Path) -> None:
    days = generate_days(tmp_path / "days", days=3, scale=0.02).folders
    served.ok("run", "--source", str(days[0]))
    no_bi = {k: v for k, v in served.env(INSIGHTFLOW_KEEP_SNAPSHOTS="1").items() if k != "INSIGHTFLOW_BI_URL"}
    for day in days[1:]:  # two runs the database does not follow; the lake keeps one snapshot a table
        assert served.cli("run", "--source", str(day), env=no_bi).returncode == 0
    assert served.cli("bi", "status", "--check").returncode == 1
    out = served.ok("bi", "sync")
    assert "full sync" in out.stdout
    lake = Lakehouse(served.lake)
    assert served.served_run() == lake.history()[-1].run_id
    for name in SERVED:
        assert len(served.rows(f"SELECT 1 FROM {name}")) == lake.sql(f"SELECT count(*) FROM {name}")[1][0][0]


def test_changes_are_the_rows_that_differ_and_the_keys_that_went() -> None:
    con = duckdb.connect()
    con.register("old", pa.table({"id": [1, 2, 3, 4], "v": [1.0, 2.0, 3.0, 4.0], "s": ["a", None, "c", "d"]}))
    con.register("new", pa.table({"id": [1, 2, 3, 5], "v": [1.0, 2.5, 3.0, 5.0], "s": ["a", None, "C", "e"]}))
    upserts, stale = _changes(con, "SELECT * FROM new", "SELECT * FROM old", ["id", "v", "s"], ("id",))
    assert sorted(upserts.fetchall()) == [(2, 2.5, None), (3, 3.0, "C"), (5, 5.0, "e")]
    assert sorted(stale.fetchall()) == [(2,), (3,), (4,), (5,)]  # 4 is gone; 2, 3, 5 are replaced


def test_a_failing_run_leaves_the_served_figures(served: Served, small_export: Path, tmp_path: Path) -> None:
    served.ok("run", "--source", str(small_export))
    before, run = served.rows("SELECT * FROM kpi.summary"), served.served_run()
    broken = write_export(tmp_path / "broken")
    orders = broken / "OrderDetails.csv"  # a required column missing: the run refuses the file
    orders.write_bytes(orders.read_bytes().replace(b"ORDER_QUANTITY", b"ORDER_QTY", 1))
    out = served.cli("run", "--source", str(broken))
    assert out.returncode != 0 and "OrderDetails.csv: required column ORDER_QUANTITY" in out.stderr and "Traceback" not in out.stderr
    assert served.served_run() == run
    assert served.rows("SELECT * FROM kpi.summary") == before


@pytest.mark.slow
@pytest.mark.parametrize("point", ["bi-table", "bi-commit"])
def test_a_killed_sync_leaves_the_previous_run_served(served: Served, tmp_path: Path, point: str) -> None:
    days = generate_days(tmp_path / "days", days=2, scale=0.05).folders
    served.ok("run", "--source", str(days[0]))
    before, run = served.dump(), served.served_run()
    # the run publishes in the lake, then dies in the middle of its sync
    out = served.cli("run", "--source", str(days[1]), env=served.env(INSIGHTFLOW_KILL_AT=point))
    assert out.returncode == -9
    assert served.served_run() == run and served.dump() == before
    assert served.cli("bi", "status", "--check").returncode == 1
    killed_full = served.cli("bi", "sync", "--full", env=served.env(INSIGHTFLOW_KILL_AT=point))
    assert killed_full.returncode == -9
    assert served.served_run() == run and served.dump() == before
    out = served.ok("bi", "sync")
    assert "incremental sync" in out.stdout
    assert served.served_run() == Lakehouse(served.lake).history()[-1].run_id
    assert served.ok("bi", "status", "--check").returncode == 0


@pytest.mark.slow
def test_two_syncs_at_once_take_turns(served: Served, small_export: Path) -> None:
    served.ok("run", "--source", str(small_export))
    syncs = [subprocess.Popen([*CLI, "bi", "sync", "--full", "--lake", str(served.lake)], env=served.env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [(p.wait(timeout=300), p.stderr.read()) for p in syncs]
    assert [code for code, _ in outs] == [0, 0], outs
    rows = served.rows("SELECT started_at, finished_at FROM insightflow_bi.syncs ORDER BY started_at")
    assert len(rows) == 3
    # each full sync ran alone: the later one started (took the lock) after the earlier committed
    assert rows[1]["finished_at"] <= rows[2]["started_at"]
    assert len(served.rows("SELECT * FROM marts.fact_sales")) == \
        Lakehouse(served.lake).tables()[[t.name for t in Lakehouse(served.lake).tables()].index("marts.fact_sales")].rows


def test_a_database_that_is_down_does_not_stop_the_run(served: Served, small_export: Path) -> None:
    from tests.servers import free_port

    down = f"postgresql://postgres@127.0.0.1:{free_port()}/{served.database}"
    env = served.env(INSIGHTFLOW_BI_URL=down, INSIGHTFLOW_RETRIES="2")
    started = time.monotonic()
    out = served.cli("run", "--source", str(small_export), env=env)
    assert out.returncode == 0, out.stderr
    assert "success" in out.stdout
    warning = [line for line in out.stderr.splitlines() if "BI sync failed" in line]
    assert len(warning) == 1 and "published, BI sync failed: the serving database" in warning[0]
    assert "Traceback" not in out.stderr and time.monotonic() - started < 60
    history = Lakehouse(served.lake).history()
    assert [r.status for r in history] == ["success"]
    steps = Lakehouse(served.lake).reader().query(
        "SELECT step, step_status, attempts FROM ops.run_history WHERE step = 'bi.sync'")[1]
    assert steps == [("bi.sync", "failed", 3)]
    # the database comes back: `bi sync` catches up
    assert served.cli("bi", "status", "--check").returncode == 1
    assert "full sync" in served.ok("bi", "sync").stdout
    assert served.served_run() == history[-1].run_id


def test_settings_and_errors(served: Served, small_export: Path) -> None:
    served.lake.mkdir(parents=True)
    (served.lake / "insightflow.toml").write_text('[bi]\nurl = "postgresql://u:secret@h/db"\n')
    out = served.cli("bi", "status", env={k: v for k, v in served.env().items() if k != "INSIGHTFLOW_BI_URL"})
    assert out.returncode == 2 and "password comes from the environment" in out.stderr
    (served.lake / "insightflow.toml").unlink()
    out = served.cli("bi", "sync", env={k: v for k, v in served.env().items() if k != "INSIGHTFLOW_BI_URL"})
    assert out.returncode == 2 and "INSIGHTFLOW_BI_URL" in out.stderr and len(out.stderr.splitlines()) == 1
    out = served.cli("bi", "sync")
    assert out.returncode != 0 and "no published run" in out.stderr and "Traceback" not in out.stderr
    out = served.cli("bi", "sync", env=served.env(INSIGHTFLOW_BI_URL="mysql://h/db"))
    assert out.returncode != 0 and "not a PostgreSQL URL" in out.stderr
