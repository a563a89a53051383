"""Benchmarks: events/s per core beside the raw-client limit, measured in one run.

``personalizer bench`` (:mod:`streams.commands.bench`) runs :func:`benchmarks.suite.run_bench`;
each phase lives in its own module (``raw_loop``, ``peers``, ``worker``, ``replay``,
``restore``, ``scaling``), ``report`` renders the table and the ratios, ``compare`` sets a
run against ``baseline.json``. Benchmarks report numbers; they never assert speed.
"""

__all__: list[str] = []
