"""History exports on a separate, throttled lane (issue 6; reference/data-access.md item 7: a large pull
can never starve normal calls).

Rules:
- a provider asks for up to :data:`MAX_EXPORT_DAYS` days of one access point at any granularity; the
  mandate is checked and the read logged when the job is accepted (the same rule as a direct read);
- jobs run one at a time in a separate worker *process* at the lowest CPU priority (``nice 19``), so they
  take only the CPU the normal lane leaves; each client may queue :data:`~kwartier.hub.EXPORT_BURST`
  jobs at once and one more per minute after that (429 beyond);
- the result is one JSON file ``<home>/exports/<job>.json`` written aside and renamed (there whole or not
  at all), deleted :data:`KEEP` after it was finished; the job's status and row count are in the registry.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import orjson
import pyarrow as pa
import sqlalchemy as sa

from kwartier.access.codes import ExportStatus
from kwartier.config import Settings
from kwartier.exposure import meter_data
from kwartier.exposure.export import Granularity
from kwartier.exposure.json_rows import totals_json
from kwartier.hub import Hub, utc_now
from kwartier.registry.data_access import ExportJob
from kwartier.schema import CHANNEL, START, TARIFF

MAX_EXPORT_DAYS: Final = 3 * 366 + 1
KEEP: Final = timedelta(days=7)
LOWEST_PRIORITY: Final = 19


def export_path(settings: Settings, job_id: str) -> Path:
    """Where the file of export job ``job_id`` lies."""
    return settings.home / "exports" / f"{job_id}.json"


def lower_priority() -> None:
    """Initializer of the export worker process: the lowest CPU priority."""
    os.nice(LOWEST_PRIORITY)


def run_export(settings: Settings, job_id: str) -> None:
    """Run export job ``job_id`` (in the worker process): read month by month, write the file, record."""
    from kwartier.server import build_hub  # noqa: PLC0415 - the worker process builds its own state

    hub = build_hub(settings)
    with hub.transaction() as session:
        job = session.get(ExportJob, job_id)
        if job is None or job.status is not ExportStatus.QUEUED:
            return
        job.status, job.started_at = ExportStatus.RUNNING, utc_now()
        ean, granularity, start, end = job.ean, Granularity(job.granularity), job.data_from, job.data_to
    try:
        with hub.sessions() as session:
            carrier = meter_data.energy_of_access_point(session, ean)
        if carrier is None:
            raise ValueError("unknown access point")
        parts = []
        cursor = start
        while cursor < end:
            following = min((cursor.replace(day=1) + timedelta(days=32)).replace(day=1), end)
            parts.append(meter_data.energy(hub, ean, carrier, cursor, following, granularity))
            cursor = following
        totals = pa.concat_tables(parts).sort_by(
            [(CHANNEL, "ascending"), (TARIFF, "ascending"), (START, "ascending")]
        )
        path = export_path(settings, job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        head = orjson.dumps(
            {"ean": ean, "granularity": granularity.value, "data_from": start, "data_to": end}
        )
        partial.write_bytes(head[:-1] + b',"rows":' + totals_json(totals) + b"}")
        partial.replace(path)
        outcome, error, count = ExportStatus.DONE, None, totals.num_rows
    except (OSError, ValueError) as failure:
        outcome, error, count = ExportStatus.FAILED, str(failure)[:500], None
    with hub.transaction() as session:
        job = session.get(ExportJob, job_id)
        if job is not None:
            job.status, job.finished_at, job.rows, job.error = outcome, utc_now(), count, error


def purge_exports(hub: Hub, now: datetime) -> int:
    """Delete the files of jobs finished more than :data:`KEEP` ago; returns how many were deleted."""
    removed = 0
    with hub.sessions() as session:
        old = session.scalars(
            sa.select(ExportJob.id).where(
                ExportJob.status == ExportStatus.DONE, ExportJob.finished_at < now - KEEP
            )
        ).all()
    for job_id in old:
        path = export_path(hub.settings, job_id)
        if path.exists():
            path.unlink()
            removed += 1
    return removed
