"""``personalizer bench``: throughput per core beside the raw-client limit, in one run.

The benchmark code lives in the checkout's ``benchmarks/`` package (it is a development
tool, not shipped in the wheel); this command finds it next to ``streams/``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click
import orjson

_ROOT = Path(__file__).resolve().parents[2]


def _benchmarks(module: str) -> Any:
    if not (_ROOT / "benchmarks" / "__init__.py").exists():
        raise click.ClickException(
            f"personalizer bench needs a source checkout: no benchmarks/ package next to {_ROOT / 'streams'}")
    if str(_ROOT) not in sys.path:
        sys.path.insert(0, str(_ROOT))
    return importlib.import_module(f"benchmarks.{module}")


@click.command("bench")
@click.option("--events", default=100_000, show_default=True, help="Generated events (fixed seed).")
@click.option("--users", default=10_000, show_default=True, help="Distinct users in the workload.")
@click.option("--seed", default=1, show_default=True, help="Generator seed.")
@click.option("--partitions", default=4, show_default=True,
              help="Input partitions for the single-process phases.")
@click.option("--latency-seconds", default=10.0, show_default=True,
              help="How long the worker is fed at half its rate for the latency figures.")
@click.option("--restore-users", default=200_000, show_default=True,
              help="Users in the changelog partition restored (1000000 for the full figure).")
@click.option("--scaling/--no-scaling", default=False, show_default=True,
              help="Also run 1, 2 and 4 worker processes on an 8-partition input.")
@click.option("--scaling-events", default=60_000, show_default=True, help="Events per scaling run.")
@click.option("--skip", multiple=True, type=click.Choice(["raw", "worker", "faust", "quix", "latency",
                                                           "replay", "restore"]),
              help="Leave a phase out (repeatable).")
@click.option("--quix-python", type=click.Path(dir_okay=False), default=None,
              help="Python with quixstreams installed (default: this one, then var/bench-venv).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results (and ratios) as JSON here.")
def bench(events: int, users: int, seed: int, partitions: int, latency_seconds: float, restore_users: int,
          scaling: bool, scaling_events: int, skip: tuple[str, ...], quix_python: str | None,
          json_path: Path | None) -> None:
    """Benchmark on an embedded broker: the raw confluent-kafka limit, the Faust and Quix
    Streams peers, our worker (all features and defaults), replay from a file, event-to-
    decision latency at half the worker's rate, peak RSS and the state restore rate.

    Events/s are per CPU-core (process CPU time); compare the ratios, not the absolute
    numbers. Defaults finish in a few minutes on 2 cores.
    """
    suite = _benchmarks("suite")
    report = _benchmarks("report")
    opts = suite.BenchOptions(events=events, users=users, seed=seed, partitions=partitions,
                              latency_seconds=latency_seconds, restore_users=restore_users,
                              scaling=scaling, scaling_events=scaling_events, skip=frozenset(skip),
                              quix_python=quix_python)
    results = suite.run_bench(opts, say=lambda line: click.echo(f"[bench] {line}", err=True))
    results["command"] = "personalizer bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"]
                                                          else sys.argv[1:])
    report.render(results)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        json_path.write_bytes(orjson.dumps(results, option=options) + b"\n")
        click.echo(f"results written to {json_path}", err=True)


if __name__ == "__main__":
    bench()
