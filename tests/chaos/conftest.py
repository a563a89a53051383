"""The chaos tier: faults against a real worker on the embedded broker.

Duplicates, slow batches, a broker restart, lost local state and schema evolution, each
checked against the pure core's replay of the same input (``tests/integration/planes.py``).
The broker fixtures are the integration tier's (imported, not copied); every test here
is marked ``chaos`` and ``integration`` (``pytest -m chaos`` runs the tier alone,
``make unit`` leaves it out).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import (
    bootstrap_servers,
    broker,
    broker_settings,
    consumer_factory,
    producer_factory,
    topic_factory,
)

__all__ = [
    "bootstrap_servers",
    "broker",
    "broker_settings",
    "consumer_factory",
    "producer_factory",
    "topic_factory",
]

_HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    # Also wanted in pyproject's [tool.pytest.ini_options] markers (same text).
    config.addinivalue_line("markers", "chaos: fault injection against a real worker (tests/chaos/)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.integration)
