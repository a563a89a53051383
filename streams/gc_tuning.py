"""Garbage-collector thresholds for the batch hot paths (the worker's data plane, replay).

CPython runs a young-generation collection every 700 container allocations and, every
tenth of those, an older one; the engine allocates several containers per event (outputs,
recommendations, profile updates), so with the default thresholds the collector walks the
heap of models and cached profiles thousands of times a second and costs ~7-10% of the
core's time. Nothing on the hot path relies on cycle collection (reference counting frees
the per-event objects), so :func:`batch_gc` raises the thresholds for the duration of a run
and restores them after. Cycles are still collected, just less often.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: (generation 0, 1, 2) thresholds during a run; CPython's defaults are (700, 10, 10).
BATCH_THRESHOLDS = (50_000, 20, 100)

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def batch_gc(thresholds: tuple[int, int, int] = BATCH_THRESHOLDS) -> Iterator[None]:
    """Run the body with ``thresholds``; the previous ones are restored when the last of
    the runs that overlap in this process (data planes in threads) exits.

    >>> import gc
    >>> before = gc.get_threshold()
    >>> with batch_gc():
    ...     gc.get_threshold()
    (50000, 20, 100)
    >>> gc.get_threshold() == before
    True
    """
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
        _active += 1
        gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)
