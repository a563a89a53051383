"""Shared inputs for the replay tests: one small generated log per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.generator import generate


@pytest.fixture(scope="session")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 generated events (some malformed, a few erasures), sorted by event time."""
    out = tmp_path_factory.mktemp("log") / "events.jsonl"
    generate(users=300, events=3000, seed=7, out=out, malformed_fraction=0.01, erase_fraction=0.01)
    return out
