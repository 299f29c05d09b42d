"""The cloud lake on real servers: table data, landing copies and staging on SeaweedFS's S3 API, the
catalog on PostgreSQL (or SeaweedFS's Iceberg REST catalog), lake folders as separate machines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from insightflow import Lakehouse
from tests.conftest import CloudLake
from tests.exports import CUSTOMERS, ORDERS, write_export
from tests.servers import TABLE_BUCKET

pytestmark = pytest.mark.cloud

CLI = [sys.executable, "-m", "insightflow.cli"]
REFERENCE_KPIS = {  # docs/DATA.md
    "products_ordered": 334_107, "gross_sales": 32_314_681.23, "orders_placed": 65_752,
    "late_deliveries": 33_423, "avg_shipping_days": 3.93, "discount": 3_262_338.00,
    "net_sales": 29_052_343.22, "net_profit": 3_485_038.74,
}


def cli(cloud: CloudLake, *args: str, lake: Path, env: dict | None = None, check: bool = True):
    result = subprocess.run([*CLI, *args, "--lake", str(lake)], capture_output=True, text=True, timeout=600,
                            env={**cloud.env(), **(env or {})})
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def table_data_under(folder: Path) -> list[Path]:
    """Files of table data, metadata, catalogs or landing copies in a local folder."""
    kinds = (".parquet", ".avro", ".metadata.json", ".csv", ".db")
    return [p for p in folder.rglob("*") if p.is_file() and p.name.endswith(kinds)]


@pytest.mark.reference
def test_the_reference_run_on_s3_and_postgres(cloud: CloudLake, reference_dir: Path, tmp_path: Path) -> None:
    machine_a, machine_b = tmp_path / "machine-a", tmp_path / "machine-b"
    cli(cloud, "run", "--source", str(reference_dir), lake=machine_a)
    kpis = Lakehouse(machine_a).kpis()
    assert {k: kpis[k] for k in REFERENCE_KPIS} == REFERENCE_KPIS
    assert kpis["on_time_rate_by_mode"] == pytest.approx(
        {"First Class": 0.462, "Same Day": 0.497, "Second Class": 0.464, "Standard Class": 0.533}, abs=5e-4)
    assert table_data_under(machine_a) == []  # no table data on the local disk: all of it is in S3
    # another machine: its own lake folder, the same warehouse and catalog
    other = Lakehouse(machine_b)
    assert other.kpis() == kpis
    assert other.sql("SELECT count(*) FROM raw.orders")[1] == [(159_763,)]
    assert [t.name for t in other.tables()][:2] == ["curated.customer_dim", "curated.delivery_dim"]
    files = other.catalog.resolve("marts.fact_sales").files
    assert files and all(f.startswith(cloud.warehouse + "/") for f in files)
    assert table_data_under(machine_b) == []


def test_two_machines_run_at_once_and_take_turns(cloud: CloudLake, small_export: Path, tmp_path: Path) -> None:
    changed = write_export(tmp_path / "changed", {"orders": [[*ORDERS[0][:3], "7", *ORDERS[0][4:]], *ORDERS[1:]]})
    runs = [subprocess.Popen([*CLI, "run", "--source", str(source), "--lake", str(tmp_path / name)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cloud.env())
            for name, source in (("machine-a", small_export), ("machine-b", changed))]
    outcomes = [(p.wait(timeout=600), p.stderr.read()) for p in runs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    lake = Lakehouse(tmp_path / "machine-c")  # a reader on a third machine
    runs_done = [r for r in lake.history() if r.status == "success"]
    assert len(runs_done) == 2
    first, second = runs_done
    assert first.finished_at <= second.finished_at
    # no load lost: both exports' order files are loaded, once each, and the newest one wins
    assert lake.sql("SELECT count(DISTINCT _load_id) FROM raw.orders")[1] == [(2,)]
    expected = Lakehouse(tmp_path / "single")
    order = [small_export, changed] if first.source == str(small_export) else [changed, small_export]
    for source in order:
        expected.run(source)
    assert lake.kpis() == expected.kpis()


CHECKPOINTS = ["ingest:raw.orders", "publish:curated.customer_dim", "publish:marts.fact_sales", "record-run"]


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_sigkill_at_a_commit_point_of_the_cloud_lake(
    cloud: CloudLake, small_export: Path, tmp_path: Path, checkpoint: str
) -> None:
    machine = tmp_path / "machine"
    cli(cloud, "run", "--source", str(small_export), lake=machine)
    published = Lakehouse(machine).kpis()
    changed = write_export(tmp_path / "changed", {
        "orders": [[*o[:3], str(int(o[3]) + 1), *o[4:]] for o in ORDERS],
        "customers": [[*CUSTOMERS[0][:3], "Corporate", *CUSTOMERS[0][4:]], *CUSTOMERS[1:]],
    })
    killed = cli(cloud, "run", "--source", str(changed), lake=machine, env={"INSIGHTFLOW_KILL_AT": checkpoint},
                 check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert Lakehouse(tmp_path / "reader").kpis() == published  # readers see the last published run
    started = time.monotonic()
    cli(cloud, "run", "--source", str(changed), lake=machine)  # the dead run's lease is taken over
    assert time.monotonic() - started < 60  # not the lease's 60 s: its holder is known to be dead
    clean = Lakehouse(tmp_path / "clean")
    clean.run(small_export)
    clean.run(changed)
    recovered = Lakehouse(tmp_path / "reader-2")
    assert recovered.kpis() == clean.kpis()
    assert not recovered.catalog.storage.list_tree(recovered.catalog.storage.staging)
    assert recovered.catalog.remove_orphans() == 0  # the next run cleaned up what the dead one left


def test_the_lake_works_whole_on_the_cloud(cloud: CloudLake, tmp_path: Path) -> None:
    """Quarantine, snapshots, time travel, rollback, snapshot expiry and the API, on S3."""
    machine = tmp_path / "machine"
    (machine).mkdir()
    (machine / "insightflow.toml").write_text("[lake]\nkeep_snapshots = 2\n", encoding="utf-8")
    bad = [*ORDERS, ["999", "9", "1360", "1", "0", "0", "0.1", "CASH", "CLOSED", "10"]]
    lake = Lakehouse(machine)
    first = lake.run(write_export(tmp_path / "first", {"orders": bad}))
    assert [(r["line"], r["reason"]) for r in lake.quarantine("order_dim")] == [(8, "orphan_customer")]
    for n in range(3):
        lake.run(write_export(tmp_path / f"day-{n}", {"orders": [[*ORDERS[0][:3], str(n + 2), *ORDERS[0][4:]],
                                                                *ORDERS[1:]]}))
    assert lake.kpis()["products_ordered"] == sum(int(o[3]) for o in ORDERS) + 3
    snapshots = lake.snapshots("marts.fact_sales")
    assert 2 <= len(snapshots) <= 3  # expired beyond keep_snapshots, files and all
    previous = snapshots[-2]["snapshot_id"]
    before = lake.kpis(as_of=lake.history()[-2].run_id)
    lake.rollback("marts.fact_sales", previous)
    assert lake.kpis()["products_ordered"] == before["products_ordered"]
    with pytest.raises(Exception, match="keep_snapshots"):
        Lakehouse(machine).kpis(as_of=first.run_id)
    assert lake.catalog.remove_orphans() == 0

    from fastapi.testclient import TestClient

    from insightflow.api import TokenStore, create_app, tokens_path

    token = TokenStore(tokens_path(lake.layout)).add("analyst", "analyst", False)
    client = TestClient(create_app(Lakehouse(machine)))
    answer = client.get("/kpis", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["products_ordered"] == lake.kpis()["products_ordered"]


def test_server_side_encryption_of_what_is_written(cloud: CloudLake, small_export: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTFLOW_S3_SSE", "AES256")
    lake = Lakehouse(tmp_path / "machine")
    lake.run(small_export)
    storage = lake.catalog.storage
    written = storage.list_tree(cloud.warehouse)
    assert any(f.endswith(".parquet") for f in written) and any(f.endswith(".metadata.json") for f in written)
    for location in written:  # data, metadata, manifests, landing copies: every object
        bucket, key = location.removeprefix("s3://").split("/", 1)
        head = storage.fs.call_s3("head_object", Bucket=bucket, Key=key)
        assert head.get("ServerSideEncryption") == "AES256", location


def test_an_inbox_on_the_object_store_is_ingested_once(cloud: CloudLake, small_export: Path, tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "machine")
    storage = lake.catalog.storage
    inbox = f"s3://{cloud.warehouse.removeprefix('s3://').split('/')[0]}/inbox-{tmp_path.name}"
    for file in small_export.iterdir():
        storage.fs.put_file(str(file), f"{inbox}/{file.name}")
    first = lake.run(inbox)
    assert first.status == "success" and lake.kpis()["orders_placed"] == 5
    assert first.source == inbox
    again = lake.run(inbox)  # nothing new: nothing downloaded, nothing loaded
    assert {s["step"]: s["rows"] for s in again.steps}["ingest"] == 0
    changed = write_export(tmp_path / "changed", {"orders": ORDERS[:-1]})
    storage.fs.put_file(str(changed / "OrderDetails.csv"), f"{inbox}/OrderDetails.csv")
    third = lake.run(inbox)
    assert {s["step"]: s["rows"] for s in third.steps}["ingest"] == len(ORDERS) - 1
    assert not (lake.layout.tmp / "inbox").exists()


def test_the_rest_catalog_of_seaweedfs(cloud: CloudLake, small_export: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    machine = tmp_path / "machine"
    machine.mkdir()
    (machine / "insightflow.toml").write_text(f"""
[catalog]
type = "rest"
uri = "{cloud.iceberg}"
warehouse = "{TABLE_BUCKET}"
[catalog.properties]
"rest.sigv4-enabled" = "true"
"rest.signing-region" = "us-east-1"
"rest.signing-name" = "s3tables"
""", encoding="utf-8")
    monkeypatch.delenv("INSIGHTFLOW_CATALOG_URI")  # the file's REST catalog, not the test's PostgreSQL one
    run = subprocess.run([*CLI, "run", "--source", str(small_export), "--lake", str(machine)],
                         capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert run.returncode == 0, run.stderr[-3000:]
    kpis = subprocess.run([*CLI, "kpis", "--format", "json", "--lake", str(machine)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert kpis.returncode == 0, kpis.stderr[-2000:]
    files = Lakehouse(machine).catalog.resolve("marts.fact_sales").files
    assert files and all(f.startswith(f"s3://{TABLE_BUCKET}/") for f in files)  # where the catalog put them
    monkeypatch.delenv("INSIGHTFLOW_WAREHOUSE")
    local = Lakehouse(tmp_path / "local")  # the same export on a local lake
    local.run(small_export)
    assert json.loads(kpis.stdout) == json.loads(json.dumps(local.kpis()))


def test_the_lease_of_a_shared_lake(cloud: CloudLake, tmp_path: Path) -> None:
    from insightflow.errors import LakeBusyError, LakeError
    from insightflow.lake.lease import LeaseLock

    storage = Lakehouse(tmp_path / "machine").catalog.storage
    holder = LeaseLock(storage, lease_seconds=3)
    holder.acquire(timeout=1)
    other = LeaseLock(storage, lease_seconds=3)
    other.holder = {**other.holder, "host": "another-machine"}  # as if from elsewhere
    with pytest.raises(LakeBusyError, match=r"holds its lease until .*; waited 1 s"):
        other.acquire(timeout=1, poll=0.2)
    time.sleep(4)  # past the lease: renewed in the background, so still held
    with pytest.raises(LakeBusyError):
        other.acquire(timeout=0.5, poll=0.2)
    holder._stop.set()  # the holder's machine vanishes: no more renewals (and no release)
    holder._renewer.join()
    started = time.monotonic()
    other.acquire(timeout=10, poll=0.2)
    assert time.monotonic() - started < 5  # taken over once the lease expired
    assert not holder.renew()  # the old holder finds out at its next renewal...
    with pytest.raises(LakeError, match="lost the lake's lease"):
        holder.check()  # ...and the catalog refuses its commits from then on
    other.release()
    assert not storage.exists(other.key)


def test_dagster_on_postgresql_is_shared_by_machines(cloud: CloudLake, small_export: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from insightflow.orchestration import lake_instance, run_job

    monkeypatch.setenv("INSIGHTFLOW_DAGSTER_POSTGRES_URL",
                       cloud.postgres.url(cloud.postgres.create_database(), driver="postgresql"))
    machine_a, machine_b = Lakehouse(tmp_path / "machine-a"), Lakehouse(tmp_path / "machine-b")
    record = run_job(machine_a, small_export)
    assert "postgres" in (machine_a.layout.root / ".dagster" / "dagster.yaml").read_text()
    runs = lake_instance(machine_b.layout).get_runs()  # the UI of another machine sees it
    assert [r.tags.get("insightflow/run_id") for r in runs] == [record.run_id]
    assert os.environ["INSIGHTFLOW_DAGSTER_POSTGRES_URL"] not in (machine_a.layout.root / ".dagster" /
                                                                  "dagster.yaml").read_text()
