"""The inbox sensor: a run when new or changed files have settled in the lake's inbox.

Each look at the inbox notes every CSV file's size and modification time. A run is requested
only when nothing changed since the previous look (a file still being written, or a batch still
being copied, grows between looks: debounce), when the files differ from those of the last
requested run, and when at least one of them holds content the lake has not landed before.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from pathlib import Path

import dagster as dg

from insightflow.lake import LakeCatalog, LakeLayout
from insightflow.settings import Settings

Listing = dict[str, list[int]]


def scan_inbox(inbox: Path) -> Listing:
    """``{file name: [size, mtime_ns]}`` of the CSV files of the inbox (hidden and partial files
    — ``.name``, ``name.part``, ``name.tmp`` — are not exports yet)."""
    if not inbox.is_dir():
        return {}
    listing = {}
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() != ".csv" or not path.is_file():
            continue
        stat = path.stat()
        listing[path.name] = [stat.st_size, stat.st_mtime_ns]
    return listing


def evaluate_inbox(layout: LakeLayout, cursor: str | None) -> tuple[dg.RunRequest | None, str, str]:
    """One look at the inbox: (run request or None, new cursor, reason when there is no run)."""
    state = json.loads(cursor) if cursor else {}
    seen: Listing = state.get("seen", {})
    ran: Listing = state.get("ran", {})
    now = scan_inbox(layout.inbox)

    def cursor_with(**changes: Listing) -> str:
        return json.dumps({"seen": now, "ran": ran} | changes, sort_keys=True)

    if not now:
        return None, cursor_with(), f"no CSV file in {layout.inbox}"
    if now != seen:
        changing = sorted(name for name in now if seen.get(name) != now[name])
        return None, cursor_with(), f"waiting for {', '.join(changing)} to settle"
    if now == ran:
        return None, cursor_with(), "no new or changed file since the last run"
    changed = [name for name in now if ran.get(name) != now[name]]
    storage = LakeCatalog(layout).storage
    landed = {posixpath.basename(p).removesuffix(".csv") for p in storage.list(storage.landing, ".csv")}
    if all(_sha256(layout.inbox / name) in landed for name in changed):
        return None, cursor_with(ran=now), "the changed files hold content already ingested"
    run_key = hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest()[:16]
    request = dg.RunRequest(
        run_key=run_key,
        run_config={"resources": {"lake": {"config": {"lake": str(layout.root), "source": str(layout.inbox)}}}},
        tags={"insightflow/trigger": "inbox", "insightflow/files": ",".join(changed)[:200]},
    )
    return request, cursor_with(ran=now), ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def inbox_sensor(settings: Settings, job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    layout = LakeLayout.resolve(settings.lake)

    @dg.sensor(
        name="insightflow_inbox",
        job=job,
        minimum_interval_seconds=settings.sensor_interval,
        default_status=(dg.DefaultSensorStatus.RUNNING if settings.sensor_enabled
                        else dg.DefaultSensorStatus.STOPPED),
        description=f"Runs the pipeline when new files have settled in {layout.inbox}.",
    )
    def inbox(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        request, cursor, reason = evaluate_inbox(layout, context.cursor)
        if request is None:
            return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor)
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return inbox
