"""The main job on embedded defaults: simulate a region, ingest its deliveries as they arrive, validate
and estimate after each delivery, and report the quality indicators.

Deliveries are replayed in the order and at the moments the simulator gives them (``manifest.json``):
each file is ingested as received at its delivery moment, and after each delivery moment the market days
that ended (and the gas days, which end at 06:00) are validated and their gaps estimated, as a DSO's
nightly run would. Late and corrected data then supersede the estimates, which the quality report shows.
After the last delivery: the energy community's settlement, the nightly compaction, the kept billing
data, the data market's households and provider, and the supply market's stream of messages over the
region's days (:mod:`kwartier.market.demo`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from kwartier.access.demo import DataMarketSeed, seed_data_market
from kwartier.billing.billing_data import RefreshReport, refresh
from kwartier.capture.ingest import BatchReport, ingestor
from kwartier.config import Settings
from kwartier.exposure.daily_totals import refresh_daily
from kwartier.market.demo import MarketRun, run_market
from kwartier.market.readings import StoreReadings
from kwartier.quality.report import QualityReport
from kwartier.quality.run import quality_report
from kwartier.registry.database import open_registry, upgrade
from kwartier.registry.master_data import load_master_data
from kwartier.sharing.demo import DEMO_GROUP, demo_sharing
from kwartier.sharing.outbox import publish_monthly
from kwartier.sharing.settlement import SettlementRun
from kwartier.simulate.config import RegionConfig
from kwartier.simulate.simulator import simulate_region
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore
from kwartier.validation.run import ValidationReport, validate_days

Progress = Callable[[str, int, int], None]


@dataclass
class DemoResult:
    """What the demo did."""

    simulation: Path
    days: list[date]
    batches: list[BatchReport] = field(default_factory=list)
    validations: list[ValidationReport] = field(default_factory=list)
    quality: QualityReport | None = None
    sharing: SettlementRun | None = None  # the demo community's settlement (issue 5)
    billing: RefreshReport | None = None  # the kept capacity-tariff peaks (issue 4)
    data_market: DataMarketSeed | None = None  # portal users, a provider and mandates (issue 6)
    market: MarketRun | None = None  # the supply market's stream over the region's days (issue 3)

    def totals(self) -> dict[str, int]:
        """Sums over the ingested batches and the validation runs."""
        keys = ("accepted", "rejected", "flagged", "quarantined", "duplicate", "superseded", "registers")
        totals = {key: sum(getattr(b, key) for b in self.batches) for key in keys}
        totals["estimated"] = sum(v.estimated for v in self.validations)
        totals["findings"] = sum(v.findings for v in self.validations)
        return totals


def run_demo(settings: Settings, config: RegionConfig, progress: Progress | None = None) -> DemoResult:
    """Simulate, load the registry, replay the deliveries with validation, and compute the quality."""
    simulation = settings.home / "simulation" / f"seed{config.seed}-{config.access_points}x{config.days}"
    manifest_file = simulation / "manifest.json"
    if not manifest_file.exists():
        simulate_region(config, simulation, progress)
    manifest: dict[str, Any] = json.loads(manifest_file.read_text())
    days = [config.start + timedelta(days=n) for n in range(config.days)]
    result = DemoResult(simulation, days)
    upgrade(settings.registry_url)
    sessions = open_registry(settings.registry_url)
    with sessions() as session, session.begin():
        load_master_data(session, simulation / "master")
    entries = sorted(manifest["files"], key=lambda entry: (entry["delivered_at"], entry["file"]))
    moments = [list(group) for _, group in groupby(entries, key=lambda entry: entry["delivered_at"])]
    with ingestor(settings) as worker:
        for done, group in enumerate(moments):
            if progress:
                progress("deliveries", done, len(moments))
            moment = datetime.fromisoformat(group[0]["delivered_at"])
            for entry in group:
                worker.reset_tables()
                result.batches.append(worker.ingest(simulation / entry["file"], recorded_at=moment))
            due = [d for d in days if d < moment.date() and d >= moment.date() - timedelta(days=2)]
            if due:
                history = (min(due) - config.start).days  # the region has no data before its start
                result.validations.append(
                    validate_days(settings, due, as_of=moment, history_days=max(history, 1))
                )
        if progress:
            progress("deliveries", len(moments), len(moments))
    last_moment = datetime.fromisoformat(entries[-1]["delivered_at"])
    result.quality = quality_report(settings, days, as_of=last_moment)
    result.sharing = demo_sharing(settings, days[0], days[-1] + timedelta(days=1), last_moment)
    MeterStore.open(settings.store_dir).compact("readings")  # the nightly compaction: history apart
    result.billing = refresh(settings, moment=last_moment)
    refresh_daily(settings, moment=last_moment)  # the portal's and the API's daily values
    result.data_market = seed_data_market(settings, days, last_moment)
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    readings = StoreReadings(MeterStore.open(settings.store_dir), pseudonymiser)
    with open_registry(settings.registry_url)() as session:
        result.market = run_market(session, simulation / "master", days[0], last_moment, readings)
    if result.sharing is not None and result.data_market is not None:  # members now have suppliers
        as_of = datetime.fromisoformat(result.sharing.summary["as_of"])
        with open_registry(settings.registry_url)() as session, session.begin():
            publish_monthly(session, pseudonymiser, DEMO_GROUP, result.sharing.monthly, as_of, last_moment)
    return result
