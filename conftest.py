"""Root pytest configuration: guards that apply to every test."""

import threading

import pytest

# Importing the Faust app module builds an App from the environment; it has no doctests.
collect_ignore = ["streams/app.py", "streams/cli.py"]


@pytest.fixture(autouse=True)
def _no_lingering_threads():
    """A test must not leave threads behind (the data plane, feeders, viewers...)."""
    before = set(threading.enumerate())
    yield
    leaked = [
        t for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.daemon
    ]
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
