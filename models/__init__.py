"""The pure core: profiles, segments, models and policies -> decisions.

No Kafka, no asyncio, no I/O beyond reading a rules file. Batch in, outputs out,
deterministic for a given input order and configuration. ``models`` imports
``schemas`` and never ``streams``.
"""
