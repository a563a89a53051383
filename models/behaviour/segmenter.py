"""Behavioural segments: online k-means over behaviour vectors, with hysteresis.

* **Features**: the user's category mix (see :mod:`models.behaviour.vector`: repeats of
  a category within one session are damped, so a session's focus does not masquerade as
  a change of taste) over a bounded vocabulary of categories (first ``max_vocab`` seen,
  in first-seen order), plus a spend level.
* **Clustering**: k-means with river's online update (:class:`river.cluster.KMeans`:
  the nearest centre moves towards the point by ``halflife``), applied here to the
  centre our own distance picks: river's ``predict_one`` sums over a *set* of string
  keys, whose order (hence the float sum, hence a near tie) depends on Python's
  per-process string hashing. Distances use cached centre norms and the user's few
  non-zero coordinates.
* **Warm-up**: random centres make dead clusters, so the first ``warmup`` users that
  reach ``warmup_events`` interactions are buffered (anonymous vectors, no user ids),
  seeded with k-means++ from a seeded RNG and refined with a few Lloyd passes. After
  that, every ``learn_every``-th interaction of a user moves the nearest centre.
* **Hysteresis**: a user first gets a segment after ``min_events`` interactions. They
  move only when another centre is closer by a relative ``margin``, for ``confirm``
  consecutive interactions, and after at least ``min_dwell`` interactions in the current
  segment, so a noisy session does not make them flap.
* **Drift**: a river :class:`~river.drift.PageHinkley` detector watches the distance of
  learned points to their centre. On drift the centres learn faster for a while
  (``boost``) so they follow the population; users are *not* mass-reassigned: each moves
  on their own next interactions, through the same hysteresis.
* **Labels** come from each centre's dominant categories and spend level
  (``"outdoor, sports · mid spend"``).

Learned state round-trips through :class:`SegmenterState` (msgspec, no pickle): export,
import and export again gives the same bytes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from river import drift

from models.behaviour.state import DetectorState, SegmenterState
from models.behaviour.vector import SPEND_KEY
from models.profiles.profile import Profile

#: Prefix of behavioural segment ids: ``behaviour-0`` ...
SEGMENT_PREFIX = "behaviour-"
#: Spend features are ``spend_weight * min(level, SPEND_CAP) / SPEND_CAP`` (level: log10 price).
SPEND_CAP = 3.0


@dataclass(frozen=True, slots=True)
class Move:
    """A behavioural segment change for one user: ``old`` may be None (first entry)."""

    old: str | None
    new: str
    reason: str


class BehaviouralSegmenter:
    """Online clustering of users' behaviour vectors with hysteresis.

    >>> seg = BehaviouralSegmenter(n_clusters=2, warmup=4, warmup_events=1, min_events=1)
    >>> from models.profiles import Profile
    >>> from models.behaviour.vector import fold_interaction
    >>> users = []
    >>> for i, cat in enumerate(["outdoor", "books", "outdoor", "books", "outdoor"]):
    ...     p = Profile(user_id=f"u{i}", first_seen=0.0, last_seen=0.0)
    ...     fold_interaction(p, cat, 20.0, alpha=0.3, max_categories=8)
    ...     users.append((p, seg.observe(p)))
    >>> seg.ready, users[-1][1].new, seg.label(users[-1][1].new)
    (True, 'behaviour-1', 'outdoor · mid spend')
    """

    def __init__(
        self,
        n_clusters: int = 6,
        *,
        halflife: float = 0.01,
        warmup: int = 400,
        warmup_events: int = 12,
        min_events: int = 4,
        margin: float = 0.15,
        confirm: int = 2,
        min_dwell: int = 3,
        learn_every: int = 4,
        spend_weight: float = 0.3,
        max_vocab: int = 32,
        boost: float = 4.0,
        boost_steps: int = 2000,
        drift_threshold: float = 50.0,
        restarts: int = 8,
        seed: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.halflife = halflife
        self.warmup = warmup
        self.warmup_events = warmup_events
        self.min_events = min_events
        self.margin = margin
        self.confirm = confirm
        self.min_dwell = min_dwell
        self.learn_every = learn_every
        self.spend_weight = spend_weight
        self.max_vocab = max_vocab
        self.boost = boost
        self.boost_steps = boost_steps
        self.drift_threshold = drift_threshold
        self.restarts = restarts
        self.seed = seed
        self._rate = halflife
        self._centers: list[dict[str, float]] = []
        self._norms: list[float] = []
        self._vocab: list[str] = []
        self._vocab_set: set[str] = set()
        self._buffer: list[dict[str, float]] = []
        self._ready = False
        self._boost_left = 0
        self._learned = 0
        self._drifts = 0
        self._detector = drift.PageHinkley(threshold=drift_threshold)
        self._labels: list[str] = []

    # -- public ----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def drifts(self) -> int:
        return self._drifts

    def segment_ids(self) -> list[str]:
        return [f"{SEGMENT_PREFIX}{i}" for i in range(self.n_clusters)] if self._ready else []

    def label(self, segment_id: str) -> str:
        """Readable label of a segment from its centre's dominant features."""
        i = _index(segment_id)
        if not self._ready or i is None or i >= len(self._labels):
            return segment_id
        return self._labels[i]

    def features(self, p: Profile) -> dict[str, float]:
        """``p``'s feature vector: the non-zero category shares within the vocabulary, and
        the spend level under ``"$spend"``; absent keys are 0."""
        vec = p.behaviour
        cats = [(k, v) for k, v in vec.items() if k[0] != "$" or k[1] == "$"]
        total = 0.0
        for _, v in cats:
            total += v
        x: dict[str, float] = {}
        if total > 0:
            vocab = self._vocab_set
            for k, v in cats:  # keys as stored: a "$name" category is "$$name", never "$spend"
                if k not in vocab:
                    if len(self._vocab) >= self.max_vocab:
                        continue
                    self._add_vocab(k)
                x[k] = v / total
        spend = vec.get(SPEND_KEY)
        level = min(spend, SPEND_CAP) / SPEND_CAP if spend is not None else 0.5
        x[SPEND_KEY] = self.spend_weight * level
        return x

    def predict_one(self, p: Profile) -> str | None:
        """Nearest segment, without hysteresis or learning (None before warm-up)."""
        if not self._ready or p.behaviour_n == 0:
            return None
        return f"{SEGMENT_PREFIX}{_argmin(self._distances(self.features(p)))}"

    def observe(self, p: Profile) -> Move | None:
        """Learn from ``p``'s updated vector and (re)assign ``p``, with hysteresis."""
        n = p.behaviour_n
        if n == 0:
            return None
        if not self._ready:
            if n == self.warmup_events:
                self._buffer.append(self.features(p))
                if len(self._buffer) >= self.warmup:
                    self._initialise()
            return None
        x = self.features(p)
        d = self._distances(x)
        best = _argmin(d)
        if n % self.learn_every == 0:
            self._learn(x, best, d[best])
        if n < self.min_events:
            return None
        new = f"{SEGMENT_PREFIX}{best}"
        cur = p.bsegment
        cur_i = _index(cur) if cur is not None else None
        if cur is None or cur_i is None or cur_i >= len(d):
            self._assign(p, new)
            return Move(None, new, f"behaviour closest to '{self._labels[best]}' "
                                   f"after {n} interactions")
        p.bsegment_dwell += 1
        if best == cur_i:
            p.bsegment_challenger = None
            p.bsegment_streak = 0
            return None
        if d[best] < (1.0 - self.margin) * d[cur_i] and p.bsegment_dwell >= self.min_dwell:
            if p.bsegment_challenger == new:
                p.bsegment_streak += 1
            else:
                p.bsegment_challenger = new
                p.bsegment_streak = 1
            if p.bsegment_streak >= self.confirm:
                reason = (
                    f"behaviour shifted from '{self._labels[cur_i]}' to '{self._labels[best]}': "
                    f"distance {d[best]:.2f} vs {d[cur_i]:.2f} for {p.bsegment_streak} interactions"
                )
                self._assign(p, new)
                return Move(cur, new, reason)
        else:
            p.bsegment_challenger = None
            p.bsegment_streak = 0
        return None

    # -- learning --------------------------------------------------------------------

    def _add_vocab(self, cat: str) -> None:
        self._vocab.append(cat)
        self._vocab_set.add(cat)
        for c in self._centers:
            c[cat] = 0.0

    def _distances(self, x: dict[str, float]) -> list[float]:
        """Euclidean distance of sparse ``x`` to every centre: ``|c|² + Σ x (x - 2c)``."""
        out = []
        for c, norm in zip(self._centers, self._norms, strict=True):
            s = norm
            for k, v in x.items():
                s += v * (v - 2.0 * c.get(k, 0.0))
            out.append(math.sqrt(s) if s > 0.0 else 0.0)
        return out

    def _learn(self, x: dict[str, float], j: int, dist: float) -> None:
        c = self._centers[j]
        rate = self._rate
        norm = 0.0
        for k, v in c.items():
            v += rate * (x.get(k, 0.0) - v)
            c[k] = v
            norm += v * v
        self._norms[j] = norm
        self._learned += 1
        if self._boost_left:
            self._boost_left -= 1
            if not self._boost_left:
                self._rate = self.halflife
        det = self._detector
        det.update(dist)
        if det.drift_detected:
            self._drifts += 1
            self._boost_left = self.boost_steps
            self._rate = min(0.5, self.halflife * self.boost)
            det._reset()  # now rather than on the next update: nothing pending to checkpoint
        if self._learned % 1000 == 0:
            self._relabel()

    def _initialise(self) -> None:
        rng = random.Random(self.seed)
        keys = [*self._vocab, SPEND_KEY]
        pts = [[b.get(k, 0.0) for k in keys] for b in self._buffer]
        best: tuple[float, list[list[float]]] | None = None
        for _ in range(self.restarts):  # best of several seeded k-means++ runs
            centers = _kmeans_pp(pts, self.n_clusters, rng)
            for _ in range(15):
                centers = _lloyd(pts, centers)
            inertia = sum(min(_sq(p, c) for c in centers) for p in pts)
            if best is None or inertia < best[0]:
                best = (inertia, centers)
        assert best is not None
        self._set_centers([dict(zip(keys, c, strict=True)) for c in best[1]])
        self._buffer = []
        self._ready = True
        self._relabel()

    def _set_centers(self, centers: list[dict[str, float]]) -> None:
        self._centers = [{k: float(v) for k, v in c.items()} for c in centers]
        self._norms = [sum(v * v for v in c.values()) for c in self._centers]

    def _relabel(self) -> None:
        spends = [c.get(SPEND_KEY, 0.0) for c in self._centers]
        mean_spend = sum(spends) / len(spends)
        labels = []
        for i, c in enumerate(self._centers):
            cats = sorted(((v, k) for k, v in c.items() if k != SPEND_KEY), key=lambda t: (-t[0], t[1]))
            total = sum(max(v, 0.0) for v, _ in cats) or 1.0
            top = [k for v, k in cats[:3] if v / total >= 0.15] or [k for _, k in cats[:1]]
            top = [k[1:] if k[0] == "$" else k for k in top]
            step = 0.05 * self.spend_weight / 0.3
            level = ("high spend" if spends[i] > mean_spend + step
                     else "low spend" if spends[i] < mean_spend - step else "mid spend")
            labels.append(f"{', '.join(top)} · {level}")
        self._labels = labels

    # -- state -----------------------------------------------------------------------

    def to_state(self) -> SegmenterState:
        det = self._detector
        return SegmenterState(
            vocab=list(self._vocab), buffer=[_floats(b) for b in self._buffer],
            centers=[_floats(c) for c in self._centers] if self._ready else None,
            halflife=float(self._rate), boost_left=self._boost_left, learned=self._learned,
            drifts=self._drifts, labels=list(self._labels),
            detector=DetectorState(  # floats, so that a re-export gives the same bytes
                n=float(det._x_mean.n), mean=float(det._x_mean._mean),
                sum_increase=float(det._sum_increase), sum_decrease=float(det._sum_decrease),
                min_increase=float(det._min_increase), max_decrease=float(det._max_decrease),
            ),
        )

    def load_state(self, state: SegmenterState) -> None:
        self._vocab = list(state.vocab)
        self._vocab_set = set(state.vocab)
        self._buffer = [dict(b) for b in state.buffer]
        self._rate = state.halflife
        self._ready = state.centers is not None
        self._set_centers(state.centers if state.centers is not None else [])
        self._boost_left = state.boost_left
        self._learned = state.learned
        self._drifts = state.drifts
        self._labels = list(state.labels)
        det = self._detector = drift.PageHinkley(threshold=self.drift_threshold)
        det._x_mean.n = state.detector.n
        det._x_mean._mean = state.detector.mean
        det._sum_increase = state.detector.sum_increase
        det._sum_decrease = state.detector.sum_decrease
        det._min_increase = state.detector.min_increase
        det._max_decrease = state.detector.max_decrease  # type: ignore[assignment]

    @staticmethod
    def _assign(p: Profile, seg: str) -> None:
        p.bsegment = seg
        p.bsegment_dwell = 0
        p.bsegment_challenger = None
        p.bsegment_streak = 0


def _argmin(d: list[float]) -> int:
    best = 0
    for i in range(1, len(d)):
        if d[i] < d[best]:
            best = i
    return best


def _floats(d: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in d.items()}


def _index(segment_id: str) -> int | None:
    if not segment_id.startswith(SEGMENT_PREFIX):
        return None
    tail = segment_id[len(SEGMENT_PREFIX):]
    return int(tail) if tail.isdigit() else None


def _sq(a: list[float], b: list[float]) -> float:
    return sum((x - y) * (x - y) for x, y in zip(a, b, strict=True))


def _kmeans_pp(pts: list[list[float]], k: int, rng: random.Random) -> list[list[float]]:
    centers = [list(pts[rng.randrange(len(pts))])]
    while len(centers) < k:
        d2 = [min(_sq(p, c) for c in centers) for p in pts]
        total = sum(d2)
        if total <= 0:
            centers.append(list(pts[rng.randrange(len(pts))]))
            continue
        r = rng.random() * total
        acc = 0.0
        for p, w in zip(pts, d2, strict=True):
            acc += w
            if acc >= r:
                centers.append(list(p))
                break
        else:
            centers.append(list(pts[-1]))
    return centers


def _lloyd(pts: list[list[float]], centers: list[list[float]]) -> list[list[float]]:
    dim = len(centers[0])
    sums = [[0.0] * dim for _ in centers]
    counts = [0] * len(centers)
    for p in pts:
        j = min(range(len(centers)), key=lambda i: _sq(p, centers[i]))
        counts[j] += 1
        row = sums[j]
        for t in range(dim):
            row[t] += p[t]
    return [[s / counts[j] for s in sums[j]] if counts[j] else centers[j] for j in range(len(centers))]
