"""The inbox sensor: one run for a batch of files once they have settled, none for a file still
being written, none for content already ingested."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from insightflow import Lakehouse
from insightflow.orchestration import build_definitions, lake_instance
from insightflow.settings import Settings
from tests.exports import FILE_NAMES, write_export


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    """One evaluation of the sensor, as the daemon makes it: (run requests, new cursor)."""
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        data = sensor.evaluate_tick(context)
    return data.run_requests, data.cursor


def test_sensor_requests_one_run_when_files_settle(tmp_path: Path, monkeypatch) -> None:
    lake = Lakehouse(tmp_path / "lake")
    lake.layout.create()
    defs = build_definitions(Settings.load(lake.layout.root))
    sensor = defs.resolve_sensor_def("insightflow_inbox")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    instance = lake_instance(lake.layout)
    export = write_export(tmp_path / "export")
    inbox = lake.layout.inbox

    requests, cursor = tick(sensor, instance, None)
    assert requests == []  # an empty inbox

    # three files dropped whole, the fourth still being written
    names = list(FILE_NAMES.values())
    for name in names[:3]:
        shutil.copy(export / name, inbox / name)
    content = (export / names[3]).read_bytes()
    partial = inbox / names[3]
    partial.write_bytes(content[: len(content) // 3])
    requests, cursor = tick(sensor, instance, cursor)
    assert requests == []  # just appeared: wait for them to settle
    with partial.open("ab") as handle:
        handle.write(content[len(content) // 3 : 2 * len(content) // 3])
    requests, cursor = tick(sensor, instance, cursor)
    assert requests == []  # the fourth file grew since the last look: still being written
    with partial.open("ab") as handle:
        handle.write(content[2 * len(content) // 3 :])
    requests, cursor = tick(sensor, instance, cursor)
    assert requests == []  # it changed again (completed): one more look to be sure
    requests, cursor = tick(sensor, instance, cursor)
    assert len(requests) == 1  # all four settled: exactly one run
    request = requests[0]
    assert request.run_config["resources"]["lake"]["config"]["source"] == str(inbox)
    assert set(request.tags["insightflow/files"].split(",")) == set(names)
    for _ in range(2):
        requests, cursor = tick(sensor, instance, cursor)
        assert requests == []  # nothing new: no second run


def test_sensor_skips_content_already_ingested(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "lake")
    export = write_export(tmp_path / "export")
    lake.run(export)
    shutil.copytree(export, lake.layout.inbox, dirs_exist_ok=True)
    sensor = build_definitions(Settings.load(lake.layout.root)).resolve_sensor_def("insightflow_inbox")
    instance = lake_instance(lake.layout)
    cursor = None
    for _ in range(3):
        requests, cursor = tick(sensor, instance, cursor)
        assert requests == []  # the same bytes were ingested before
    (lake.layout.inbox / "notes.txt").write_text("not an export")
    (lake.layout.inbox / ".OrderDetails.csv.part").write_text("a partial copy")
    requests, cursor = tick(sensor, instance, cursor)
    assert requests == []
