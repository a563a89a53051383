"""Measuring helpers shared by the benchmark phases: CPU time, peak RSS, percentiles.

"Per core" everywhere means events / CPU seconds of the process doing the work (user +
system time, all its threads: librdkafka's included). The broker runs in its own process
and is never counted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["per_core", "percentile", "proc_cpu_seconds", "proc_peak_rss_mb", "reset_peak_rss", "status_kb"]


def proc_cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of process ``pid`` (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kb(field: str, pid: int | str = "self") -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``, ``RssAnon``...); 0
    when absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def proc_peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) of process ``pid`` in MB; 0.0 when unknown."""
    try:
        return status_kb("VmHWM", pid) / 1024
    except OSError:
        return 0.0


def reset_peak_rss() -> None:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs`` 5), so the
    next phase's peak is its own; silently does nothing where unsupported."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def per_core(events: int, cpu_s: float) -> float:
    """Events per CPU-second; 0.0 when no CPU time was measured.

    >>> per_core(1000, 0.5)
    2000.0
    >>> per_core(10, 0.0)
    0.0
    """
    return events / cpu_s if cpu_s > 0 else 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of already sorted values; NaN when empty.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    3.0
    >>> percentile([5.0], 0.99)
    5.0
    """
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def write_json(path: Path, value: object) -> None:
    """``value`` as indented JSON at ``path`` (its folder made if missing)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))


def report_json(shown: object, path: Path | None, written: object | None = None) -> None:
    """Print ``shown`` as JSON; also write ``written`` (default: ``shown``) to ``path``."""
    import json

    print(json.dumps(shown, indent=2))
    if path is not None:
        write_json(path, shown if written is None else written)
