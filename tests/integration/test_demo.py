"""`personalizer demo` (what `make demo` runs): decisions visible within a minute."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from streams.broker import find_free_port

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_shows_decisions_and_cleans_up(tmp_path: Path):
    port = find_free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "demo", "--duration", "40", "--events", "8000",
         "--web-port", str(port), "--workdir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    first_decision_after = None
    metrics = user_page = None
    for line in proc.stdout:
        lines.append(line)
        if first_decision_after is None and line.startswith("decision user="):
            first_decision_after = time.monotonic() - started
            user = re.match(r"decision user=(\S+)", line).group(1)  # type: ignore[union-attr]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                metrics = r.read().decode()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/users/{user}", timeout=5) as r:
                user_page = r.read().decode()
    assert proc.wait(60) == 0, "".join(lines)
    proc.stdout.close()
    out = "".join(lines)
    assert first_decision_after is not None and first_decision_after < 60, out
    assert "worker ready" in out and f"http://127.0.0.1:{port}/metrics" in out
    assert "segment  user=" in out and "dead-letter reason=" in out
    assert re.search(r"totals decisions [1-9][\d,]*", out)
    assert metrics is not None and "personalizer_decisions_total" in metrics
    assert user_page is not None and '"segments"' in user_page
    pids = [int(p) for p in re.findall(r"\(pid (\d+)\)|worker pid (\d+)", out) for p in p if p]
    assert len(pids) == 2 and not any(_alive(p) for p in pids), out
