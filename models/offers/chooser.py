"""The placement -> variant policy: guardrails, consent, experiments, then a bandit per segment.

For a decision on a placement of the :class:`~models.offers.catalog.OfferCatalog`, in order:

1. **Guardrails** (everyone, control included, so they do not bias the holdout): a
   cooldown after a click or conversion on the placement, then the frequency cap
   (:mod:`models.offers.caps`). A capped decision shows **no variant** (``variant=None``):
   a cap means "no offer here now", and the default variant is an offer too; the
   storefront shows its own non-offer fallback. The reason says which guardrail.
2. **Consent**: without personalization consent the variant comes from the placement's
   non-personalized **global bandit** (context ``*``: no segment, no per-user signal) and the
   user is not enrolled in experiments; the reason says so.
3. **Experiment**: when the placement has one, :func:`~models.offers.experiments.assign`
   puts the user in treatment or control by a stable hash. Control gets the default variant
   with propensity 1 (``policy="holdout-default"``), counted but never learned from.
4. **Bandit**: an :class:`~models.bandits.EpsilonGreedy` per ``placement|segment``. The
   segment is the first of the user's segments listed in ``context_segments`` (all of the
   user's segments in rule-file order when that is empty), else ``*``. With
   ``context="global"`` every user shares the ``*`` bandit.

The draw of every choice comes from a hash of ``(seed, decision_id)``, so the same input
gives the same choices; the decision is remembered in :class:`~models.offers.attribution.
Attribution` until its feedback arrives or its window closes.

>>> from models.offers.catalog import OfferCatalog
>>> from models.profiles.profile import Profile
>>> from schemas.control import decode_offer
>>> rec = decode_offer(b'{"placement": "home", "default_variant": "a",'
...     b' "variants": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]}')
>>> chooser = VariantChooser(OfferCatalog.from_records([rec]), epsilon=0.2)
>>> p = Profile(user_id="u1", first_seen=0.0, last_seen=0.0)
>>> d = chooser.choose("u1", p, "home", "dec-1", ("fans",), True, 0.0)
>>> d.variant.variant_id in ("a", "b"), d.variant.propensity, d.variant.policy
(True, 0.5, 'epsilon-greedy eps=0.2 context=home|fans')
>>> chooser.feedback("u1", p, "dec-1", "click", 60.0)
'feedback_attributed'
>>> chooser.choose("u1", p, "unknown-placement", "dec-2", (), True, 0.0) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import msgspec

from models.bandits import BanditState, EpsilonGreedy
from models.offers.attribution import REWARDING, Attribution, AttributionState, Pending
from models.offers.caps import CapRule, capped, record_exposure, record_response
from models.offers.catalog import OfferCatalog, Placement
from models.offers.experiments import assign
from models.profiles.profile import Profile
from schemas.outputs import ExperimentAssignment, VariantChoice

#: Context of the non-personalized bandit of a placement.
GLOBAL_CONTEXT = "*"


@dataclass(frozen=True, slots=True)
class OfferDecision:
    """What the chooser decided for one placement decision."""

    variant: VariantChoice | None
    experiment: ExperimentAssignment | None
    #: True for experiment control: the whole decision is the non-personalized default.
    control: bool
    reasons: tuple[str, ...]


class OfferState(msgspec.Struct, kw_only=True):
    """Serializable learned state of :class:`VariantChooser` (msgpack, no pickle)."""

    bandits: dict[str, BanditState] = {}
    attribution: AttributionState = msgspec.field(default_factory=AttributionState)


class VariantChooser:
    """Chooses a variant per placement decision and learns from attributed feedback."""

    def __init__(
        self,
        catalog: OfferCatalog | None = None,
        *,
        epsilon: float = 0.1,
        seed: int = 0,
        context: str = "segment",
        context_segments: Sequence[str] = (),
        window_s: float = 86_400.0,
        max_pending: int = 100_000,
        cap: CapRule = CapRule(),  # noqa: B008 - frozen dataclass: immutable
        placement_caps: Mapping[str, int] = MappingProxyType({}),
    ) -> None:
        if context not in ("segment", "global"):
            raise ValueError(f"context must be 'segment' or 'global', got {context!r}")
        EpsilonGreedy(epsilon)  # validates epsilon
        self.catalog = catalog if catalog is not None else OfferCatalog()
        self.epsilon = epsilon
        self.seed = seed
        self.context = context
        self.context_segments = tuple(context_segments)
        self.window_s = window_s
        self.max_pending = max_pending
        self.cap = cap
        self.placement_caps = dict(sorted(placement_caps.items()))
        self._bandits: dict[str, EpsilonGreedy] = {}
        self._attribution = Attribution(window_s=window_s, max_pending=max_pending,
                                        max_closed=max_pending)
        self._placements: dict[str, Placement] = {p.id: p for p in self.catalog}

    # -- catalogue -----------------------------------------------------------------------

    def set_catalog(self, catalog: OfferCatalog) -> int:
        """Use a new catalogue. Bandits of removed placements and statistics of removed
        variants are dropped; decisions pending on removed placements are closed without
        learning. Returns how many pending decisions were closed."""
        self.catalog = catalog
        self._placements = {p.id: p for p in catalog}
        for key in list(self._bandits):
            placement = self._placements.get(key.partition("|")[0])
            if placement is None:
                del self._bandits[key]
            else:
                self._bandits[key].forget_arms(placement.variant_ids())
        return len(self._attribution.forget_placements(self._placements))

    def handles(self, placement: str) -> bool:
        return placement in self._placements

    def bandit(self, key: str) -> EpsilonGreedy:
        """The bandit of context ``key`` (``placement|segment``), created on first use."""
        b = self._bandits.get(key)
        if b is None:
            b = self._bandits[key] = EpsilonGreedy(self.epsilon, self.seed)
        return b

    def context_of(self, placement: str, segments: Sequence[str], allowed: bool) -> str:
        """The bandit key for a user in ``segments`` (``placement|*`` when not personalized)."""
        if not allowed or self.context == "global":
            return f"{placement}|{GLOBAL_CONTEXT}"
        if self.context_segments:
            member = set(segments)
            for seg in self.context_segments:
                if seg in member:
                    return f"{placement}|{seg}"
            return f"{placement}|{GLOBAL_CONTEXT}"
        return f"{placement}|{segments[0] if segments else GLOBAL_CONTEXT}"

    def _cap_rule(self, placement: str) -> CapRule:
        n = self.placement_caps.get(placement)
        if n is None:
            return self.cap
        return CapRule(max_exposures=n, window_s=self.cap.window_s, cooldown_s=self.cap.cooldown_s)

    # -- decide --------------------------------------------------------------------------

    def choose(
        self, user: str, profile: Profile, placement: str, decision_id: str,
        segments: Sequence[str], allowed: bool, now: float,
    ) -> OfferDecision | None:
        """The offer part of a decision, or None when ``placement`` is not in the catalogue.
        Records the exposure (for caps) in ``profile`` and remembers the decision."""
        pl = self._placements.get(placement)
        if pl is None:
            return None
        reasons: list[str] = []
        experiment = assign(user, pl.experiment) if pl.experiment is not None and allowed else None
        control = experiment is not None and experiment.arm == "control"
        rule = self._cap_rule(placement)
        why_not = capped(profile, placement, now, rule)
        if why_not is not None:
            reasons.append(f"{why_not}: no offer shown")
            return OfferDecision(None, experiment, control, tuple(reasons))
        if control:
            assert pl.experiment is not None and experiment is not None
            variant = VariantChoice(
                placement=placement, variant_id=pl.default_variant, propensity=1.0,
                policy="holdout-default",
                reason=(f"experiment '{experiment.experiment_id}': control group "
                        f"({pl.experiment.holdout_fraction:.0%} holdout), non-personalized default"),
            )
            self._remember(decision_id, Pending(
                user=user, placement=placement, context="", arm=variant.variant_id,
                propensity=1.0, deadline=now + self.window_s, learn=False,
            ))
            record_exposure(profile, placement, now, rule)
            reasons.append(variant.reason)
            return OfferDecision(variant, experiment, True, tuple(reasons))
        key = self.context_of(placement, segments, allowed)
        bandit = self.bandit(key)
        arms = pl.variant_ids()
        choice = bandit.choose(arms, decision_id)
        ctx = key.partition("|")[2]
        where = "all shoppers" if ctx == GLOBAL_CONTEXT else f"segment '{ctx}'"
        if choice.explored:
            why = f"exploring (epsilon {self.epsilon:g}): '{choice.arm}' drawn uniformly for {where}"
        elif bandit.count(choice.arm) == 0:
            why = f"'{choice.arm}' not tried yet for {where}"
        else:
            why = (f"'{choice.arm}' has the best click rate for {where}: "
                   f"{bandit.value(choice.arm):.3f} over {bandit.count(choice.arm)} decisions")
        if not allowed:
            why += " (no personalization consent: non-personalized global bandit)"
        variant = VariantChoice(
            placement=placement, variant_id=choice.arm, propensity=round(choice.propensity, 12),
            policy=f"epsilon-greedy eps={self.epsilon:g} context={key}", reason=why,
        )
        self._remember(decision_id, Pending(
            user=user, placement=placement, context=key, arm=choice.arm,
            propensity=choice.propensity, deadline=now + self.window_s,
        ))
        record_exposure(profile, placement, now, rule)
        if experiment is not None:
            reasons.append(f"experiment '{experiment.experiment_id}': treatment group")
        reasons.append(f"variant {why}")
        return OfferDecision(variant, experiment, False, tuple(reasons))

    def _remember(self, decision_id: str, pending: Pending) -> None:
        for p in self._attribution.remember(decision_id, pending):
            self._learn(p, 0.0)

    # -- learn ---------------------------------------------------------------------------

    def _learn(self, p: Pending, reward: float) -> None:
        if not p.learn or not p.context:
            return
        pl = self._placements.get(p.placement)
        if pl is None or p.arm not in pl.variant_ids():
            return  # the placement or variant left the catalogue since
        self.bandit(p.context).update(p.arm, reward)

    def feedback(self, user: str, profile: Profile | None, decision_id: str, action: str,
                 ts: float) -> str:
        """Join a ``feedback`` event to its decision; returns the outcome to count
        (``feedback_attributed``, ``feedback_control`` (a control decision's click: counted,
        not learned), ``feedback_impression``, ``feedback_late``, ``feedback_repeat`` or
        ``feedback_unknown``)."""
        outcome, p = self._attribution.feedback(decision_id, user, action)
        if p is not None and action in REWARDING:
            if not p.learn:
                outcome = "feedback_control"
            self._learn(p, 1.0)
            if profile is not None and self._cap_rule(p.placement).cooldown_s > 0:
                record_response(profile, p.placement, ts)
        return outcome

    def close_due(self, now: float) -> int:
        """Close the attribution windows that ended by ``now``, learning reward 0 for each."""
        closed = self._attribution.close_due(now)
        for p in closed:
            self._learn(p, 0.0)
        return len(closed)

    def forget_user(self, user: str) -> int:
        """Erasure: drop the user's pending and recently closed decisions."""
        return self._attribution.forget_user(user)

    def pending(self) -> int:
        return len(self._attribution)

    # -- state ---------------------------------------------------------------------------

    def to_state(self) -> OfferState:
        return OfferState(
            bandits={k: b.to_state() for k, b in self._bandits.items()},
            attribution=self._attribution.to_state(),
        )

    def load_state(self, state: OfferState) -> None:
        self._bandits = {}
        for key, bs in state.bandits.items():
            self.bandit(key).load_state(bs)
        self._attribution.load_state(state.attribution)
