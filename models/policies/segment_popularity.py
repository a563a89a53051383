"""First policy: what is popular in the user's segments, minus what they already own."""

from __future__ import annotations

from models.policies.context import DecisionContext, PolicyAnswer
from models.recommenders.popularity import GLOBAL, SegmentPopularity
from schemas.outputs import DecisionKind, Recommendation


class SegmentPopularityPolicy:
    """Fill ``k`` slots from the user's segments in rule-file order, then global popularity.

    Items the user bought or has in the cart are excluded (only when personalization is
    allowed: without consent, no individual history is used at all).
    """

    name = "segment-popularity/1"

    def __init__(self, popularity: SegmentPopularity | None = None, k: int = 10) -> None:
        #: None: a new, empty one (every argument has a default: a compiled class unpickles so).
        self.popularity = popularity if popularity is not None else SegmentPopularity()
        self.k = k
        self._reasons: dict[str, str] = {}

    def _reason(self, name: str) -> str:
        """The reason of a segment's recommendations (one string per segment name)."""
        text = self._reasons.get(name)
        if text is None:
            text = f"popular with shoppers in '{name}', a segment you are in"
            if len(self._reasons) < 4096:  # names come from the definitions: few
                self._reasons[name] = text
        return text

    def decide(self, ctx: DecisionContext) -> PolicyAnswer:
        reasons: list[str] = []
        k = self.k
        pop = self.popularity
        category = pop.categories()
        # exclusions read in place (no set built per decision); empty without consent
        purchased: dict[str, float] = ctx.profile.purchased if ctx.personalization_allowed else {}
        cart: dict[str, int] = ctx.profile.cart if ctx.personalization_allowed else {}
        recs: list[Recommendation] = []
        chosen: set[str] = set()
        used_segments: list[str] = []
        for seg in ctx.segments:
            if len(recs) >= k:
                break
            scores, total = pop.shares(seg)
            reason = None
            for item in pop.ranking(seg):
                if item in purchased or item in cart or item in chosen:
                    continue
                if reason is None:
                    reason = self._reason(ctx.segment_names.get(seg, seg))
                    used_segments.append(seg)
                chosen.add(item)
                recs.append(Recommendation(item_id=item, score=round(scores[item] / total, 6),
                                           category=category.get(item), reason=reason))
                if len(recs) >= k:
                    break
        from_segments = len(recs)
        if len(recs) < k:
            scores, total = pop.shares(GLOBAL)
            for item in pop.ranking(GLOBAL):
                if item in purchased or item in cart or item in chosen:
                    continue
                chosen.add(item)
                recs.append(Recommendation(
                    item_id=item, score=round(scores[item] / total, 6), category=category.get(item),
                    reason="popular with all shoppers this week",
                ))
                if len(recs) >= k:
                    break
        kind: DecisionKind
        if not ctx.personalization_allowed:
            kind = "default"
        elif from_segments:
            kind = "personalized"
            reasons.append("ranked by recent popularity in your segments: " + ", ".join(used_segments))
        else:
            kind = "default"
            reasons.append("no segment popularity yet for this user: global popularity")
        if purchased or cart:
            excluded = len(purchased) + sum(1 for item in cart if item not in purchased)
            reasons.append(f"excluded {excluded} items already bought or in the cart")
        if not recs:
            reasons.append("no item interactions seen yet: nothing to recommend")
        return PolicyAnswer(kind=kind, recommendations=recs, reasons=reasons)
