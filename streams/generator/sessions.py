"""Events of one session: a small funnel state machine producing exactly ``n`` events.

A session starts with its forced events (``identify`` and ``consent`` at a user's first
session, a personalization withdrawal, an email open/click for subscribers), then
browses: a landing ``page_view``, ``product_view`` s in categories drawn from the user's
*current* taste group (with a per-session focus category), ``search`` es,
``add_to_cart`` (more likely for groups with a high purchase propensity, and for items
bought before: buy-again), sometimes ``remove_from_cart``, and a ``purchase`` of the cart
with a funnel-like probability. A user's last session may end with ``erase``.

Events are appended to ``out`` as ``(ts_ms, user_index, seq, json_bytes)`` tuples:
compact, sortable, and never held for the whole run.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import msgspec

from streams.generator.catalog import SEARCH_TERMS, Catalog
from streams.generator.population import GROUPS, GroupTables, User, pick
from streams.generator.writer import TimeFormatter

_encode = msgspec.json.Encoder().encode

Pending = list[tuple[int, int, int, bytes]]

SESSION_WINDOW_MS = 2_940_000
MAX_GAP_MS = 35_000
EMAIL_SESSION_P = 0.25
EMAIL_CLICK_P = 0.5
FOCUS_P = 0.6
BOUGHT_MEMORY = 40
PACK = 1 << 16


class SessionGenerator:
    """Generates sessions for users, sharing one seeded RNG (deterministic order)."""

    def __init__(
        self,
        rng: random.Random,
        catalog: Catalog,
        tables: GroupTables,
        seed: int,
        fmt: TimeFormatter,
        out: Pending,
    ) -> None:
        self.rng = rng
        self.catalog = catalog
        self.tables = tables
        self.fmt = fmt
        self.out = out
        self.prefix = f"ev{seed}-"
        self.session_prefix = f"s{seed}-"
        self.counts: dict[str, int] = {}
        self.anonymous_users = 0
        self.terms = tuple(SEARCH_TERMS[c] for c in catalog.categories)
        self.propensity = tuple(g.purchase_propensity for g in GROUPS)

    # -- emission ---------------------------------------------------------------

    def _emit(
        self,
        u: User,
        t: int,
        etype: str,
        props: dict[str, object] | None,
        sid: str | None,
        anon: bool = False,
    ) -> None:
        d: dict[str, object] = {"type": etype, "event_id": f"{self.prefix}{u.index}-{u.seq}"}
        if anon:
            d["anonymous_id"] = u.anonymous_id
        else:
            d["user_id"] = u.user_id
        d["event_time"] = self.fmt(t)
        if sid is not None:
            d["session_id"] = sid
        if props is not None:
            d["properties"] = props
        d["schema_version"] = 1
        self.out.append((t, u.index, u.seq, _encode(d)))
        u.seq += 1
        self.counts[etype] = self.counts.get(etype, 0) + 1

    # -- one session ------------------------------------------------------------

    def run(self, u: User, start: int, n: int) -> None:
        """Emit exactly ``n`` events of ``u``'s next session, starting at ``start`` ms."""
        rng = self.rng
        k = u.session_no
        u.session_no += 1
        last_session = k == len(u.sessions) - 1
        sid = f"{self.session_prefix}{u.index}-{k}"
        group = u.group_at(start)
        marketing = u.consent is not None and u.consent[1]

        # forced events, in order
        head: list[str] = []
        anon_browse = 0
        if k == 0:
            if u.anonymous_id is not None and n >= 3:
                anon_browse = min(n - 2, 1 + rng.randrange(4))
            head.append("identify")
            if u.consent is not None:
                head.append("consent")
        if k > 0 and u.withdraw_session == k:
            head.append("withdraw")
        email_cat = -1
        if k > 0 and marketing and u.traits["email_subscriber"] and rng.random() < EMAIL_SESSION_P:
            email_cat = pick(rng, self.tables.category_cum[group])
            head.append("email_open")
            if rng.random() < EMAIL_CLICK_P:
                head.append("email_click")
        tail = 1 if (u.erase and last_session) else 0
        if len(head) + tail + anon_browse > n:
            anon_browse = 0
            head = head[: max(0, n - tail)]
            tail = min(tail, n)
        browse = n - len(head) - tail - anon_browse

        mean_gap = max(1, min(MAX_GAP_MS, SESSION_WINDOW_MS // (2 * max(1, n))))
        limit = start + SESSION_WINDOW_MS
        t = start
        remaining = n

        def tick() -> int:
            nonlocal t, remaining
            remaining -= 1
            cur = t
            nxt = t + 500 + int(rng.expovariate(1.0 / mean_gap))
            t = min(nxt, limit - remaining)
            return cur

        if anon_browse:
            self.anonymous_users += 1
            self._browse(u, anon_browse, group, sid, tick, anon=True, focus=-1)
        for kind in head:
            ts = tick()
            if kind == "identify":
                props: dict[str, object] = {"traits": u.traits}
                if u.anonymous_id is not None:
                    props["previous_anonymous_id"] = u.anonymous_id
                self._emit(u, ts, "identify", props, sid)
            elif kind == "consent":
                assert u.consent is not None
                pers, mkt = u.consent
                self._emit(u, ts, "consent", {"personalization": pers, "marketing": mkt}, sid)
            elif kind == "withdraw":
                self._emit(u, ts, "consent", {"personalization": False}, sid)
            else:
                cat = self.catalog.categories[email_cat]
                email: dict[str, object] = {
                    "campaign_id": f"cmp-{cat}-w{ts // 604_800_000}",
                    "message_id": f"msg-{u.index}-{k}",
                }
                if kind == "email_open":
                    self._emit(u, ts, "email_open", email, None)
                else:
                    email["link_url"] = f"https://shop.example/c/{cat}"
                    self._emit(u, ts, "email_click", email, sid)
        if browse > 0:
            self._browse(u, browse, group, sid, tick, anon=False, focus=email_cat)
        if tail:
            ts = tick()
            self._emit(u, ts, "erase", {"reason": "user_request"}, sid)
            u.erased_ms = ts

    def _browse(
        self,
        u: User,
        n: int,
        group: int,
        sid: str,
        next_t: Callable[[], int],
        *,
        anon: bool,
        focus: int,
    ) -> None:
        rng = self.rng
        rand = rng.random
        cat_cum = self.tables.category_cum[group]
        item_cum = self.tables.item_cum[group]
        cats = self.catalog.categories
        ids = self.catalog.item_ids
        prices = self.catalog.prices
        prop = self.propensity[group]
        emit = self._emit
        if focus < 0:
            focus = pick(rng, cat_cum)
        cart: dict[int, int] = {}  # packed item -> quantity (insertion ordered)
        viewed = -1
        p_add = 0.12 + 0.3 * prop
        p_buy = 0.10 + 0.5 * prop
        for step in range(n):
            ts = next_t()
            if step == 0:
                if rand() < 0.5:
                    emit(u, ts, "page_view", {"path": "/", "page_type": "home"}, sid, anon)
                else:
                    c = cats[focus]
                    emit(
                        u,
                        ts,
                        "page_view",
                        {"path": f"/c/{c}", "page_type": "category", "category": c},
                        sid,
                        anon,
                    )
                continue
            r = rand()
            if cart and not anon and r < p_buy * (0.25 if step < n - 1 else 1.0):
                self._purchase(u, ts, sid, cart)
                cart = {}
                continue
            r = rand()
            if viewed >= 0 and r < p_add:
                ci, ii = divmod(viewed, PACK)
                qty = 1 if rand() < 0.8 else 2 + int(rand() * 2)
                cart[viewed] = cart.get(viewed, 0) + qty
                emit(
                    u,
                    ts,
                    "add_to_cart",
                    {
                        "item_id": ids[ci][ii],
                        "category": cats[ci],
                        "price": prices[ci][ii],
                        "quantity": qty,
                    },
                    sid,
                    anon,
                )
                viewed = -1
                continue
            r -= p_add if viewed >= 0 else 0.0
            if cart and r < 0.05:
                packed = next(iter(cart))
                qty = cart.pop(packed)
                ci, ii = divmod(packed, PACK)
                emit(
                    u,
                    ts,
                    "remove_from_cart",
                    {
                        "item_id": ids[ci][ii],
                        "category": cats[ci],
                        "price": prices[ci][ii],
                        "quantity": qty,
                    },
                    sid,
                    anon,
                )
                continue
            r = rand()
            if u.bought and not anon and r < 0.05:
                packed = u.bought[int(rand() * len(u.bought))]
                ci, ii = divmod(packed, PACK)
                cart[packed] = cart.get(packed, 0) + 1
                emit(
                    u,
                    ts,
                    "add_to_cart",
                    {
                        "item_id": ids[ci][ii],
                        "category": cats[ci],
                        "price": prices[ci][ii],
                        "quantity": 1,
                    },
                    sid,
                    anon,
                )
                continue
            if r < 0.15:
                ci = focus if rand() < FOCUS_P else pick(rng, cat_cum)
                terms = self.terms[ci]
                q = terms[int(rand() * len(terms))]
                emit(
                    u,
                    ts,
                    "search",
                    {"query": q, "results": 5 + int(rand() * 60), "category": cats[ci]},
                    sid,
                    anon,
                )
                focus = ci
                continue
            if r < 0.22:
                c = cats[focus]
                emit(
                    u,
                    ts,
                    "page_view",
                    {"path": f"/c/{c}", "page_type": "category", "category": c},
                    sid,
                    anon,
                )
                continue
            ci = focus if rand() < FOCUS_P else pick(rng, cat_cum)
            ii = pick(rng, item_cum[ci])
            viewed = ci * PACK + ii
            emit(
                u,
                ts,
                "product_view",
                {"item_id": ids[ci][ii], "category": cats[ci], "price": prices[ci][ii]},
                sid,
                anon,
            )

    def _purchase(self, u: User, ts: int, sid: str, cart: dict[int, int]) -> None:
        ids = self.catalog.item_ids
        prices = self.catalog.prices
        cats = self.catalog.categories
        items = []
        revenue = 0.0
        for packed, qty in cart.items():
            ci, ii = divmod(packed, PACK)
            price = prices[ci][ii]
            revenue += price * qty
            items.append(
                {"item_id": ids[ci][ii], "quantity": qty, "price": price, "category": cats[ci]}
            )
            if packed not in u.bought:
                u.bought.append(packed)
        if len(u.bought) > BOUGHT_MEMORY:
            del u.bought[: len(u.bought) - BOUGHT_MEMORY]
        self._emit(
            u,
            ts,
            "purchase",
            {
                "order_id": f"o{self.prefix[2:]}{u.index}-{u.orders}",
                "items": items,
                "revenue": round(revenue, 2),
                "currency": "EUR",
            },
            sid,
        )
        u.orders += 1
