"""Shared fixtures of the capture tests: the Mijn Fluvius samples read once per session (pure reader)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kwartier.capture.mijn_fluvius import read_mijn_fluvius
from kwartier.capture.result import CaptureResult
from tests.capture.samples import MIJN_FLUVIUS_SAMPLES


@pytest.fixture(scope="session")
def mijn_fluvius_dir(samples_dir: Path) -> Path:
    return samples_dir / "mijn-fluvius"


@pytest.fixture(scope="session")
def mijn_fluvius_results(mijn_fluvius_dir: Path) -> dict[str, CaptureResult]:
    return {name: read_mijn_fluvius(mijn_fluvius_dir / name) for name in MIJN_FLUVIUS_SAMPLES}
