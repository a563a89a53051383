"""The partition engine: a batch of raw records in, outputs out. Pure and deterministic.

One :class:`Engine` holds everything learned from one input partition: its profile
store, the due-time schedule, the models, and the event-time watermark. The live worker
runs one per assigned partition; a replay runs one per partition of the same hash, so
both make the same decisions for the same events.

Per event, in order: decode -> event-time bounds -> (duplicate? skip) -> fire due
time-based changes up to the watermark -> fold into the profile -> re-evaluate rule
segments -> decide -> learn.

Event-time bounds (deterministic: only event times and broker timestamps, never the wall
clock). An event stamped more than ``EngineConfig.max_future_s`` (default 1 day) after its
record's broker timestamp (``SourcePosition.timestamp_ms``, when positive) is dead-lettered as
``future_event``: a producer clock in the future would otherwise drag the partition's
watermark ahead and expire everyone's windows. Without a broker timestamp (file replays)
there is no reference clock, so no future check is made (a quiet partition legitimately
jumps days between events). An event more than ``max_past_s`` (default 400 days, the
profile bucket retention) behind the partition's watermark is dead-lettered as
``too_old``: it could not be windowed. Both count as ``invalid`` outcomes. An ``erase`` is
never refused for its time (deleting is always safe); one out of bounds is applied without
moving the watermark.

Pseudonymization. With ``EngineConfig.pseudonymize_key`` set, the user key (``user_id``,
else ``anonymous_id``) is replaced by ``models.privacy.pseudonymize(key, user_key)`` as
soon as an event is decoded: profiles, the changelog, decisions, segment changes (and the
ids derived from them) only ever hold the pseudonym. :meth:`Engine.lookup` and
:meth:`Engine.recommend` take the raw id and pseudonymize it too. Dead letters keep the
original bytes (they are the input, for redrive).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from models.behaviour import BehaviouralSegmenter, Move, fold_interaction
from models.config import EngineConfig
from models.engine.batch import BatchOutput, InputRecord
from models.engine.ids import change_id, decision_id, iso, iso_of
from models.engine.schedule import Schedule
from models.engine.state import COVISIT_PART, EngineState
from models.offers.caps import CapRule
from models.offers.catalog import OfferCatalog
from models.offers.chooser import VariantChooser
from models.policies.context import DecisionContext, Policy
from models.policies.hybrid import HybridPolicy
from models.policies.segment_popularity import SegmentPopularityPolicy
from models.privacy import pseudonymize
from models.profiles.profile import Profile
from models.profiles.update import apply_event, new_profile, prune_days
from models.profiles.view import ProfileAt
from models.recommenders.covisit import CoVisitation
from models.recommenders.hybrid import SEGMENT_CANDIDATES, HybridRecommender
from models.recommenders.popularity import SegmentPopularity
from models.recommenders.ranker import Ranker
from models.segments import RuleSet
from models.segments.dependencies import FIRST_SEEN, PRUNED, SESSIONS, SOON
from models.segments.rule_set import DUE
from models.segments.timing import EPSILON_SECONDS
from models.state.memory import MemoryStore
from models.state.store import ProfileStore
from schemas.decode import Rejection, decode_event
from schemas.events import AddToCart, Erase, EventBase, Feedback, PageView, ProductView, Purchase, Search
from schemas.outputs import DeadLetter, Decision, SegmentChange, SourcePosition

_DUE_PRUNED = (*DUE, PRUNED)
_PART_ENCODER = msgspec.msgpack.Encoder()

#: Popularity weight per interaction type.
POPULARITY_WEIGHTS = {"product_view": 1.0, "add_to_cart": 2.0, "purchase": 4.0}


class _WriteBack:
    """Per-batch cache: one store read per distinct user, one store write per batch."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self.cache: dict[str, Profile | None] = {}
        self.dirty: dict[str, Profile | None] = {}

    def get(self, user: str) -> Profile | None:
        if user in self.cache:
            return self.cache[user]
        p = self.cache[user] = self.store.get(user)
        return p

    def put(self, user: str, p: Profile) -> None:
        self.cache[user] = p
        self.dirty[user] = p

    def delete(self, user: str) -> None:
        self.cache[user] = None
        self.dirty[user] = None

    def flush(self, out: BatchOutput) -> None:
        if self.dirty:
            self.store.write_many(self.dirty)
            out.state_updates.update(self.dirty)


class Engine:
    """Core of one partition.

    >>> from models.segments import parse_rules
    >>> rules = parse_rules('segments: [{id: buyer, name: Buyer, when: "count(purchase) >= 1"}]')
    >>> eng = Engine(rules)
    >>> out = eng.process_many([InputRecord(
    ...     b'{"type":"purchase","event_id":"e1","user_id":"u1","event_time":"2026-01-01T10:00:00Z",'
    ...     b'"properties":{"order_id":"o1","revenue":5,"items":[{"item_id":"sku-1","price":5}]}}')])
    >>> [(c.segment_id, c.change) for c in out.segment_changes]
    [('buyer', 'entered')]
    >>> out.decisions[0].placement, out.decisions[0].segments
    ('order_confirmation', ['buyer'])
    """

    def __init__(
        self,
        rules: RuleSet,
        config: EngineConfig | None = None,
        store: ProfileStore | None = None,
        policy: Policy | None = None,
        offers: OfferCatalog | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        c = self.config
        #: Variant choice for the placements of the offer catalogue (see models/offers).
        self.offers = VariantChooser(
            offers, epsilon=c.offer_epsilon, seed=c.seed, context=c.offer_context,
            context_segments=c.offer_segments, window_s=c.offer_attribution_window_s,
            max_pending=c.offer_max_pending,
            cap=CapRule(max_exposures=c.offer_cap, window_s=c.offer_cap_window_s,
                        cooldown_s=c.offer_cooldown_s),
            placement_caps=c.offer_caps,
        )
        self.store: ProfileStore = store if store is not None else MemoryStore()
        self.popularity = SegmentPopularity(
            half_life_days=self.config.popularity_half_life_days,
            max_items=self.config.max_items_per_segment,
        )
        self.trending = SegmentPopularity(
            half_life_days=self.config.trending_half_life_days, max_items=self.config.max_items_per_segment
        )
        self.steady = SegmentPopularity(
            half_life_days=self.config.steady_half_life_days, max_items=self.config.max_items_per_segment
        )
        self.covisit = CoVisitation(
            max_items=self.config.max_covisit_items, max_neighbors=self.config.max_covisit_neighbors
        )
        self.ranker = Ranker()
        self.recommender = HybridRecommender(
            self.popularity, self.trending, self.covisit, self.ranker,
            rebuy_after_days=self.config.rebuy_after_days, steady=self.steady,
            # the shoppers-like-you source is sized for the slots to fill (10 by default)
            segment_candidates=max(SEGMENT_CANDIDATES, self.config.recommendations),
            segment_depth=max(SEGMENT_CANDIDATES, self.config.recommendations),
        )
        self.policy: Policy
        if policy is not None:
            self.policy = policy
        elif self.config.policy == "segment-popularity":
            self.policy = SegmentPopularityPolicy(self.popularity, k=self.config.recommendations)
        else:
            self.policy = HybridPolicy(
                self.recommender, k=self.config.recommendations,
                excluded_categories=self.config.excluded_categories,
            )
        #: Trending, co-visitation and the ranker are only learned for the hybrid policy.
        self._hybrid = isinstance(self.policy, HybridPolicy)
        c = self.config
        self.segmenter = BehaviouralSegmenter(
            n_clusters=c.behaviour_clusters, margin=c.behaviour_margin, confirm=c.behaviour_confirm,
            min_dwell=c.behaviour_min_dwell, warmup=c.behaviour_warmup, seed=c.seed,
        )
        #: Re-evaluate only the rules an event could change (off: every rule, every event;
        #: the two give identical outputs, which tests check).
        self.incremental_rules = True
        self.watermark: float | None = None
        self.schedule = Schedule()
        self._use_rules(rules)
        #: Members per rule segment among the profiles the store held at construction.
        self.stored_segment_counts: dict[str, int] = self._index_store()

    def _use_rules(self, rules: RuleSet) -> None:
        """``rules`` and what is derived from them: segment names, the decisions' policy label."""
        self.rules = rules
        self._names = {s.id: s.name for s in rules.segments}
        self._policy_label = f"{self.policy.name}+rules@{rules.version}"

    def _index_store(self) -> dict[str, int]:
        """One walk over the stored profiles (decoded one at a time): their due times into
        the schedule; returns the members per rule segment."""
        counts: dict[str, int] = {}
        for user, profile in self.store.items():
            if profile.next_due is not None:
                self.schedule.add(profile.next_due, user)
            for seg in profile.segments:
                counts[seg] = counts.get(seg, 0) + 1
        return counts

    # -- entry points --------------------------------------------------------------

    def process_many(self, records: Sequence[InputRecord]) -> BatchOutput:
        """Decode and process a batch of raw records, in order."""
        out = BatchOutput()
        wb = _WriteBack(self.store)
        for raw, position in records:
            ev = decode_event(raw)
            if isinstance(ev, Rejection):
                out.dead_letters.append(DeadLetter(
                    reason=ev.reason, detail=ev.detail, raw=raw,
                    error_class=ev.error_class, source=position,
                ))
                out.count("invalid")
                continue
            self._guarded(ev, raw, position, wb, out)
        wb.flush(out)
        return out

    def process_events(self, events: Iterable[EventBase]) -> BatchOutput:
        """Process already-decoded events (replays that decoded up front)."""
        out = BatchOutput()
        wb = _WriteBack(self.store)
        for ev in events:
            self._guarded(ev, None, None, wb, out)
        wb.flush(out)
        return out

    def advance_to(self, now: float) -> BatchOutput:
        """Move event time forward with no event (an idle partition) and fire due changes."""
        out = BatchOutput()
        wb = _WriteBack(self.store)
        if self.watermark is None or now > self.watermark:
            self.watermark = now
        self._fire_due(self.watermark, wb, out)
        self._close_windows(self.watermark, out)
        wb.flush(out)
        return out

    def set_rules(self, rules: RuleSet) -> BatchOutput:
        """Apply new segment definitions: every stored user is re-evaluated now, so users
        leave removed or changed segments (and enter new ones) without waiting for an event.
        """
        out = BatchOutput()
        self._use_rules(rules)
        if self.watermark is None:
            return out
        wb = _WriteBack(self.store)
        known = set(rules.segment_ids())
        for user, profile in self.store.items():
            before = list(profile.segments)
            gone = [s for s in before if s not in known]
            for seg in gone:
                out.segment_changes.append(SegmentChange(
                    change_id=change_id(user, seg, "exited", f"rules@{rules.version}"),
                    user_id=user, segment_id=seg, segment_kind="rule", change="exited",
                    reason=f"segment '{seg}' was removed from the definitions",
                    event_time=iso(self.watermark), trigger_event_id=None,
                ))
            profile.segments = [s for s in before if s in known]
            self._evaluate(user, profile, self.watermark, iso(self.watermark), None, out,
                           cause=f"rules@{rules.version}", prefix="segment definitions changed: ")
            wb.put(user, profile)
        wb.flush(out)
        return out

    def set_offers(self, catalog: OfferCatalog) -> BatchOutput:
        """Use a new offer catalogue from the next decision on. What was learned for
        placements and variants that remain is kept; decisions pending on removed
        placements are closed without learning (counted as ``attribution_dropped``)."""
        out = BatchOutput()
        dropped = self.offers.set_catalog(catalog)
        if dropped:
            out.count("attribution_dropped", dropped)
        return out

    def user_key(self, user_id: str) -> str:
        """The key this engine keeps ``user_id`` under: its pseudonym when a key is set."""
        key = self.config.pseudonymize_key
        return user_id if key is None else pseudonymize(key, user_id)

    def lookup(self, user_id: str) -> Profile | None:
        """The profile of a raw user id (pseudonymized here when a key is set)."""
        return self.store.get(self.user_key(user_id))

    def export_state(self) -> bytes:
        """Everything this engine learned besides the profiles, as msgpack (no pickle:
        this goes to a changelog topic). Profiles are checkpointed by the store."""
        return msgspec.msgpack.encode(self._state(covisit_lists=True))

    def _state(self, covisit_lists: bool) -> EngineState:
        """The learned state, with or without the co-visitation lists themselves."""
        return EngineState(
            watermark=self.watermark, popularity=self.popularity.to_state(),
            segmenter=self.segmenter.to_state(), trending=self.trending.to_state(),
            steady=self.steady.to_state(),
            covisit=self.covisit.to_state(lists=covisit_lists), ranker=self.ranker.to_state(),
            offers=self.offers.to_state(),
        )

    def export_checkpoint(self) -> tuple[bytes, dict[str, bytes | None]]:
        """What a checkpoint writes besides the profiles: the state of
        :meth:`export_state` but for the co-visitation lists (the core, msgpack), and
        those lists changed since the last checkpoint, one part each, by part name
        (``None``: a list dropped). :func:`models.engine.checkpoint.assemble_state` puts
        a core and the latest parts back together. A checkpoint that fails to commit gives
        its parts back (:meth:`return_checkpoint`)."""
        encode = _PART_ENCODER.encode
        parts: dict[str, bytes | None] = {}
        for item, part in self.covisit.take_changes().items():  # first: the core holds its seq
            parts[COVISIT_PART + item] = None if part is None else encode(part)
        return msgspec.msgpack.encode(self._state(covisit_lists=False)), parts

    def return_checkpoint(self, part_names: Iterable[str]) -> None:
        """The parts of a checkpoint that did not commit: the next one takes them again."""
        n = len(COVISIT_PART)
        self.covisit.return_changes([name[n:] for name in part_names if name.startswith(COVISIT_PART)])

    def import_state(self, data: bytes, *, reindex: bool = True, changed: bool = True) -> None:
        """Load learned state exported by :meth:`export_state`. ``reindex=False``: the
        store has not changed since this engine was built (its schedule is current), so
        the profiles are not walked again (a worker opening a restored partition).
        ``changed=False``: the state was assembled from a checkpoint's core and parts
        (:func:`models.engine.checkpoint.assemble_state`), which need not be written again."""
        state = msgspec.msgpack.decode(data, type=EngineState)
        self.watermark = state.watermark
        self.popularity.load_state(state.popularity)
        if state.segmenter is not None:
            self.segmenter.load_state(state.segmenter)
        if state.trending is not None:
            self.trending.load_state(state.trending)
        if state.steady is not None:
            self.steady.load_state(state.steady)
        if state.covisit is not None:
            self.covisit.load_state(state.covisit, changed=changed)
        if state.ranker is not None:
            self.ranker.load_state(state.ranker)
        if state.offers is not None:
            self.offers.load_state(state.offers)
        if reindex:
            self.schedule = Schedule()
            self.stored_segment_counts = self._index_store()

    # -- per event -----------------------------------------------------------------

    def _guarded(
        self, ev: EventBase, raw: bytes | None, position: SourcePosition | None,
        wb: _WriteBack, out: BatchOutput,
    ) -> None:
        try:
            ts = ev.ts  # a property of the event Struct: read once per event
            refused = self._out_of_time_bounds(ts, position)
            if refused is None:
                self._process(ev, ts, wb, out)
            elif isinstance(ev, Erase):
                self._erase(self.user_key(ev.user_key), ev, wb, out)  # never refuse an erasure
            else:
                reason, detail = refused
                out.dead_letters.append(DeadLetter(
                    reason=reason, detail=detail,
                    raw=raw if raw is not None else msgspec.json.encode(ev),
                    error_class="EventTimeError", source=position,
                ))
                out.count("invalid")
        except Exception as exc:  # a bug, not bad input: keep the record, keep going
            out.dead_letters.append(DeadLetter(
                reason="processing_error", detail=f"{type(exc).__name__}: {exc}"[:500],
                raw=raw if raw is not None else msgspec.json.encode(ev),
                error_class=type(exc).__name__, source=position,
            ))
            out.count("processing_error")

    def _out_of_time_bounds(
        self, ts: float, position: SourcePosition | None,
    ) -> tuple[str, str] | None:
        """``(reason, detail)`` when an event at ``ts`` is out of time bounds, else None."""
        cfg = self.config
        # librdkafka gives -1 / 0 when a record has no timestamp: that is no reference clock
        if position is not None and position.timestamp_ms is not None and position.timestamp_ms > 0:
            broker = position.timestamp_ms / 1000.0
            if ts > broker + cfg.max_future_s:
                return ("future_event", f"event_time {iso(ts)} is {ts - broker:.0f} s after the record's "
                        f"broker timestamp ({position.timestamp_ms} ms; max {cfg.max_future_s:.0f} s)")
        wm = self.watermark
        if wm is not None and ts < wm - cfg.max_past_s:
            return ("too_old", f"event_time {iso(ts)} is {wm - ts:.0f} s behind the partition's "
                    f"event time {iso(wm)} (max {cfg.max_past_s:.0f} s)")
        return None

    def _process(self, ev: EventBase, ts: float, wb: _WriteBack, out: BatchOutput) -> None:
        user = self.user_key(ev.user_key)
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts
            self._fire_due(ts, wb, out)
            self._close_windows(ts, out)
        now = self.watermark
        if isinstance(ev, Erase):
            self._erase(user, ev, wb, out)
            return
        profile = wb.get(user)
        if profile is None:
            profile = new_profile(user, ts)
        elif ev.event_id in profile.recent_event_ids:
            out.count("duplicate")
            return
        profile.recent_event_ids.append(ev.event_id)
        if len(profile.recent_event_ids) > self.config.dedup_window:
            del profile.recent_event_ids[0]
        self._learn_before(profile, ev, ts)
        sessions, first_seen = profile.sessions, profile.first_seen
        apply_event(profile, ev, self.config, ts)
        touched = self._touched(ev, profile, sessions, first_seen, prune_days(profile, now, self.config), now)
        event_time = iso_of(ev.event_time)
        self._evaluate(user, profile, now, event_time, ev.event_id, out, touched=touched)
        if self.config.behavioural_segments and self._fold_behaviour(profile, ev):
            move = self.segmenter.observe(profile)
            if move is not None:
                self._emit_move(user, move, event_time, ev.event_id, out)
        etype = ev.__struct_config__.tag
        placement = self.config.placements.get(etype)  # type: ignore[arg-type]
        if placement is not None:
            out.decisions.append(self._decide(user, profile, ev, placement, event_time, now))
        elif isinstance(ev, Feedback) and len(self.offers.catalog):
            p = ev.properties
            out.count(self.offers.feedback(user, profile, p.decision_id, p.action, ts))
        self._learn(profile, ev, ts)
        wb.put(user, profile)
        out.count("ok")

    def _touched(
        self, ev: EventBase, profile: Profile, sessions: int, first_seen: float, pruned: bool, now: float,
    ) -> tuple[str, ...] | None:
        """What ``ev`` changed that rules can read (:mod:`models.segments.dependencies`);
        None (evaluate every rule) for a new profile or while incremental evaluation is off."""
        if not self.incremental_rules:
            return None
        touched = [str(ev.__struct_config__.tag)]
        due = profile.next_due
        if due is not None and due <= now + EPSILON_SECONDS:
            touched.append(SOON)
        if profile.sessions != sessions:
            touched.append(SESSIONS)
        if profile.first_seen != first_seen:
            touched.append(FIRST_SEEN)
        if pruned:
            touched.append(PRUNED)
        return tuple(touched)

    def _fold_behaviour(self, profile: Profile, ev: EventBase) -> bool:
        """Fold the event's item interactions into the behaviour vector; False if none."""
        alpha = self.config.behaviour_alpha
        cap = self.config.max_categories
        if isinstance(ev, ProductView | AddToCart):
            props = ev.properties
            if props.category:
                fold_interaction(profile, props.category, props.price, alpha=alpha, max_categories=cap)
                return True
        elif isinstance(ev, PageView | Search):
            if ev.properties.category:
                fold_interaction(profile, ev.properties.category, None, alpha=alpha, max_categories=cap)
                return True
        elif isinstance(ev, Purchase):
            folded = False
            for line in ev.properties.items:
                if line.category:
                    fold_interaction(profile, line.category, line.price, alpha=alpha, max_categories=cap)
                    folded = True
            return folded
        return False

    def _emit_move(self, user: str, move: Move, event_time: str, trigger: str, out: BatchOutput) -> None:
        if move.old is not None:
            out.segment_changes.append(SegmentChange(
                change_id=change_id(user, move.old, "exited", trigger), user_id=user,
                segment_id=move.old, segment_kind="behavioural", change="exited",
                reason=move.reason, event_time=event_time, trigger_event_id=trigger,
            ))
        out.segment_changes.append(SegmentChange(
            change_id=change_id(user, move.new, "entered", trigger), user_id=user,
            segment_id=move.new, segment_kind="behavioural", change="entered",
            reason=move.reason, event_time=event_time, trigger_event_id=trigger,
        ))

    def _erase(self, user: str, ev: Erase, wb: _WriteBack, out: BatchOutput) -> None:
        profile = wb.get(user)
        if profile is not None:
            if profile.bsegment is not None:
                out.segment_changes.append(SegmentChange(
                    change_id=change_id(user, profile.bsegment, "exited", ev.event_id), user_id=user,
                    segment_id=profile.bsegment, segment_kind="behavioural", change="exited",
                    reason="user erased (right to be forgotten)",
                    event_time=iso_of(ev.event_time), trigger_event_id=ev.event_id,
                ))
            for seg in profile.segments:
                out.segment_changes.append(SegmentChange(
                    change_id=change_id(user, seg, "exited", ev.event_id), user_id=user,
                    segment_id=seg, segment_kind="rule", change="exited",
                    reason="user erased (right to be forgotten)",
                    event_time=iso_of(ev.event_time), trigger_event_id=ev.event_id,
                ))
        self.offers.forget_user(user)
        wb.delete(user)
        out.count("erased")

    def _evaluate(
        self, user: str, profile: Profile, now: float, event_time: str,
        trigger: str | None, out: BatchOutput, cause: str | None = None, prefix: str = "",
        touched: tuple[str, ...] | None = None,
    ) -> None:
        """Re-evaluate ``profile``'s rule segments at ``now``; ``cause`` keys the change ids
        (the triggering event id, else a due time or a rules version). ``touched``: only
        the rules that could have changed (``RuleSet.members_after``); None: every rule."""
        view = ProfileAt(profile, now, self.config.affinity_half_life_days)
        rules = self.rules
        if profile.rules_version != rules.version:
            touched = None
            profile.rules_version = rules.version
        members = rules.members_after(view, profile.segments, touched)
        old = profile.segments
        if tuple(old) != members:
            cause = cause or trigger or f"at@{now!r}"
            for seg in members:
                if seg not in old:
                    out.segment_changes.append(SegmentChange(
                        change_id=change_id(user, seg, "entered", cause), user_id=user,
                        segment_id=seg, segment_kind="rule", change="entered",
                        reason=prefix + self.rules.explain(seg, view),
                        event_time=event_time, trigger_event_id=trigger,
                    ))
            for seg in old:
                if seg not in members:
                    out.segment_changes.append(SegmentChange(
                        change_id=change_id(user, seg, "exited", cause), user_id=user,
                        segment_id=seg, segment_kind="rule", change="exited",
                        reason=prefix + "no longer true: " + self.rules.explain(seg, view),
                        event_time=event_time, trigger_event_id=trigger,
                    ))
            profile.segments = list(members)
        due = self.rules.next_due(view)
        if due != profile.next_due:
            profile.next_due = due
            if due is not None:
                self.schedule.add(due, user)

    def _fire_due(self, now: float, wb: _WriteBack, out: BatchOutput) -> None:
        while True:
            due_list = self.schedule.pop_due(now)
            if not due_list:
                return
            last, due_iso, cause = None, "", ""
            for due, user in due_list:
                profile = wb.get(user)
                if profile is None or profile.next_due != due:
                    continue  # stale entry: the user changed or was erased since
                if due != last:  # many users fall due together (windows end at midnight)
                    last, due_iso, cause = due, iso(due), f"due@{due!r}"
                profile.next_due = None
                pruned = prune_days(profile, due, self.config)
                self._evaluate(user, profile, due, due_iso, None, out, cause=cause, prefix="time passed: ",
                               touched=_DUE_PRUNED if pruned else DUE)
                wb.put(user, profile)

    def _personalization_allowed(self, profile: Profile) -> bool:
        granted = profile.consent.get("personalization")
        return granted if granted is not None else not self.config.consent_required

    def _decide(
        self, user: str, profile: Profile, ev: EventBase, placement: str,
        event_time: str, now: float,
    ) -> Decision:
        allowed = self._personalization_allowed(profile)
        segments = self.user_segments(profile) if allowed else ()
        did = decision_id(user, ev.event_id, placement)
        # the offer part first: an experiment's control group gets the non-personalized default
        offer = (self.offers.choose(user, profile, placement, did, segments, allowed, now)
                 if self.offers.handles(placement) else None)
        control = offer is not None and offer.control
        names = self._names
        if profile.bsegment is not None and allowed:
            names = {**names, profile.bsegment: self.segmenter.label(profile.bsegment)}
        answer = self.policy.decide(DecisionContext(
            user_id=user, placement=placement, profile=profile, segments=() if control else segments,
            segment_names=names, personalization_allowed=allowed and not control, now=now,
        ))
        reasons = list(answer.reasons)
        if not allowed:
            reasons.insert(0, "personalization consent withdrawn: non-personalized default"
                           if profile.consent.get("personalization") is False
                           else "no personalization consent on record: non-personalized default")
        kind = answer.kind
        if offer is not None:
            if control:
                kind = "control"
                reasons.insert(0, "experiment control group: non-personalized default "
                                  "(default variant, global popularity)")
            reasons.extend(offer.reasons)
        profile.last_decision_id = did
        return Decision(
            decision_id=did, user_id=user, event_id=ev.event_id,
            event_type=str(ev.__struct_config__.tag), event_time=event_time,
            placement=placement, kind=kind, segments=list(segments),
            recommendations=answer.recommendations, reasons=reasons,
            policy=self._policy_label,
            variant=offer.variant if offer is not None else None,
            experiment=offer.experiment if offer is not None else None,
        )

    def _close_windows(self, now: float, out: BatchOutput) -> None:
        """Close the offer attribution windows that ended by ``now`` (reward 0 learned)."""
        closed = self.offers.close_due(now)
        if closed:
            out.count("attribution_closed", closed)

    def user_segments(self, profile: Profile) -> tuple[str, ...]:
        """The user's rule segments then behavioural segment (empty without consent)."""
        if not self._personalization_allowed(profile):
            return ()
        if profile.bsegment is not None and self.config.behavioural_segments:
            return (*profile.segments, profile.bsegment)
        return tuple(profile.segments)

    def segment_name(self, segment_id: str) -> str:
        name = self._names.get(segment_id)
        return name if name is not None else self.segmenter.label(segment_id)

    def recommend(self, user_id: str, k: int | None = None) -> list[str]:
        """Fresh top-``k`` item ids for a user at the watermark (no caching, no learning):
        what offline evaluations call before feeding the user's next event."""
        profile = self.store.get(self.user_key(user_id))
        k = k or self.config.recommendations
        now = self.watermark or 0.0
        if profile is None:
            return [item for item, _, _ in self.popularity.top("*", k)]
        allowed = self._personalization_allowed(profile)
        ranked = self.recommender.recommend(
            profile, self.user_segments(profile), now, k, personal=allowed,
            excluded_categories=self.config.excluded_categories,
        )
        return [r.item_id for r in ranked]

    def _learn_before(self, profile: Profile, ev: EventBase, ts: float) -> None:
        """Learning that needs the profile as it was before ``ev`` (co-visits, ranker)."""
        if not self._hybrid or not self._personalization_allowed(profile):
            return  # only the hybrid policy reads what is learned here
        if isinstance(ev, ProductView | AddToCart):
            self.recommender.learn_interaction(profile, ev.properties.item_id, 1.0, ts)
        elif isinstance(ev, Purchase):
            items = [line.item_id for line in ev.properties.items]
            self.recommender.learn_purchase(profile, self.user_segments(profile), set(items), ts)
            self.recommender.learn_basket(profile, items, ts)

    def _learn(self, profile: Profile, ev: EventBase, ts: float) -> None:
        segments = self.user_segments(profile)
        hybrid = self._hybrid
        if isinstance(ev, ProductView | AddToCart):
            props = ev.properties
            weight = POPULARITY_WEIGHTS[str(ev.__struct_config__.tag)]
            self.popularity.learn_one(segments, props.item_id, props.category, weight, ts)
            if hybrid:
                self.trending.learn_one((), props.item_id, props.category, weight, ts)
                self.steady.learn_one((), props.item_id, props.category, weight, ts)
        elif isinstance(ev, Purchase):
            weight = POPULARITY_WEIGHTS["purchase"]
            for line in ev.properties.items:
                self.popularity.learn_one(segments, line.item_id, line.category, weight, ts)
                if hybrid:
                    self.trending.learn_one((), line.item_id, line.category, weight, ts)
                    self.steady.learn_one((), line.item_id, line.category, weight, ts)
