"""A storefront's view of the personalizer: the latest decision per user, from Kafka.

    python examples/storefront_client.py --bootstrap 127.0.0.1:9092 u42 u7

Warms a :class:`streams.storefront.DecisionCache` from the compacted latest-decisions
topic, prints the decisions of the given users (or a few cached ones), measures
``get()`` and keeps printing updates until Ctrl-C (or ``--follow 0``). Run it next to
``personalizer demo`` to watch decisions arrive.
"""

from __future__ import annotations

import argparse
import time

from streams.storefront import DecisionCache


def describe(decision: dict[str, object] | None) -> str:
    if decision is None:
        return "no decision (unknown or erased user)"
    recs = decision.get("recommendations")
    recs = recs if isinstance(recs, list) else []
    items = ", ".join(str(r.get("item_id")) for r in recs if isinstance(r, dict))
    return f"{decision.get('placement')}/{decision.get('kind')}: {items or '-'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("users", nargs="*", help="user ids to look up")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--topic", default="personalization.decisions.latest")
    parser.add_argument("--follow", type=float, default=30.0, help="seconds to keep following (0: no)")
    args = parser.parse_args()

    with DecisionCache(args.bootstrap, args.topic) as cache:
        started = time.monotonic()
        if not cache.wait_ready(60):
            raise SystemExit(f"not warm after 60 s (is {args.bootstrap} up and {args.topic} created?)")
        print(f"warm in {time.monotonic() - started:.2f}s: {len(cache)} users")
        users = args.users or cache.users()[:5]
        for user in users:
            print(f"{user}: {describe(cache.get(user))}")

        n = 200_000
        probe = users[0] if users else "nobody"
        t0 = time.perf_counter()
        for _ in range(n):
            cache.get(probe)
        print(f"get(): {(time.perf_counter() - t0) / n * 1e6:.3f} us per lookup")

        deadline = time.monotonic() + args.follow
        seen = cache.stats["records"]
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = cache.stats["records"]
            if now != seen:
                print(f"+{now - seen} records, {len(cache)} users")
                seen = now


if __name__ == "__main__":
    main()
