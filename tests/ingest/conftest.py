"""Fixtures of the ingest tests: a small simulated region loaded into a fresh data home."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kwartier.config import Settings, load_settings
from kwartier.registry.database import open_registry, upgrade
from kwartier.registry.master_data import load_master_data
from kwartier.simulate.config import FaultRates, RegionConfig
from kwartier.simulate.simulator import simulate_region


@dataclass(frozen=True)
class Region:
    """A simulated region on disk and its manifest."""

    folder: Path
    manifest: dict[str, Any]

    def files(self, kind: str) -> list[dict[str, Any]]:
        return [entry for entry in self.manifest["files"] if entry["kind"] == kind]


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> Region:
    """120 electricity access points (and their gas points) over 3 days, with more malformed lines."""
    folder = tmp_path_factory.mktemp("region")
    config = RegionConfig(seed=7, access_points=120, days=3, faults=FaultRates(malformed=2e-4))
    simulate_region(config, folder)
    return Region(folder, json.loads((folder / "manifest.json").read_text()))


def fresh_home(path: Path, region: Region, *, pseudonym_key: Path | None = None) -> Settings:
    """A data home with the region's master data loaded (optionally sharing a pseudonym key file)."""
    settings = load_settings(path)
    path.mkdir(parents=True, exist_ok=True)
    if pseudonym_key is not None:
        settings.pseudonym_key_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(pseudonym_key, settings.pseudonym_key_file)
    upgrade(settings.registry_url)
    with open_registry(settings.registry_url)() as session, session.begin():
        load_master_data(session, region.folder / "master")
    return settings


@pytest.fixture
def home(tmp_path: Path, region: Region) -> Settings:
    """A fresh data home with the region's registry."""
    return fresh_home(tmp_path / "home", region)
