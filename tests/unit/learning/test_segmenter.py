"""Behavioural segmenter and behaviour vector: byte-idempotent state, session damping,
hysteresis against a session's focus, bounded and collision-free vectors, determinism
across Python's string-hash seeds."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import msgspec

from models.behaviour import BehaviouralSegmenter, SegmenterState, category_mix, fold_interaction
from models.behaviour.vector import SPEND_KEY
from models.profiles import Profile

GROUPS = (("outdoor", "sports"), ("books", "electronics"), ("toys", "grocery"))
ROOT = Path(__file__).parents[3]


def _session(p: Profile, cats: list[str], price: float = 20.0) -> list[str | None]:
    """One session of interactions; what the segmenter said after each (new segment)."""
    p.sessions += 1
    return [_observe(p, c, price) for c in cats]


SEG: BehaviouralSegmenter | None = None


def _observe(p: Profile, cat: str, price: float) -> str | None:
    assert SEG is not None
    fold_interaction(p, cat, price, alpha=0.07, max_categories=8)
    mv = SEG.observe(p)
    return mv.new if mv else None


def _taste(g: int, i: int) -> list[str]:
    """A session of six interactions in group ``g``'s two categories (varied by ``i``)."""
    a, b = GROUPS[g]
    s = [a, b, a, a, b, a]
    return s[i % 6:] + s[: i % 6]


def _trained(seed: int = 5, **kw: object) -> tuple[BehaviouralSegmenter, list[Profile]]:
    """A segmenter warmed up and trained on 3 taste groups of 20 users each, 6 sessions."""
    global SEG
    SEG = BehaviouralSegmenter(n_clusters=3, warmup=30, warmup_events=12, seed=seed, **kw)  # type: ignore[arg-type]
    users = [Profile(user_id=f"u{i}", first_seen=0.0, last_seen=0.0) for i in range(60)]
    for _ in range(6):
        for i, p in enumerate(users):
            _session(p, _taste(i % 3, i), price=10.0 + 20 * (i % 3))
    return SEG, users


def _export(seg: BehaviouralSegmenter) -> bytes:
    return msgspec.msgpack.encode(seg.to_state())


def _reimport(blob: bytes, seed: int = 5, **kw: object) -> BehaviouralSegmenter:
    seg = BehaviouralSegmenter(n_clusters=3, warmup=30, warmup_events=12, seed=seed, **kw)  # type: ignore[arg-type]
    seg.load_state(msgspec.msgpack.decode(blob, type=SegmenterState))
    return seg


def test_state_export_import_export_gives_identical_bytes_in_every_phase():
    fresh = BehaviouralSegmenter(n_clusters=3, warmup=30, warmup_events=12, seed=5)
    blob = _export(fresh)
    # river's PageHinkley starts with the int -1 (max_decrease); a float field must not
    # turn it into -1.0 on the way back
    assert _export(_reimport(blob)) == blob
    assert msgspec.json.decode(msgspec.json.encode(fresh.to_state()))["detector"]["max_decrease"] == -1.0
    seg, _ = _trained()
    assert seg.ready
    blob = _export(seg)
    assert _export(_reimport(blob)) == blob
    json_blob = msgspec.json.encode(seg.to_state())
    again = _reimport(blob)
    assert msgspec.json.encode(again.to_state()) == json_blob


def test_state_round_trip_right_after_a_drift_gives_the_same_future():
    seg, users = _trained(drift_threshold=0.05)
    assert seg.drifts > 0  # a tiny threshold: drift detected (and the detector reset) en route
    blob = _export(seg)
    clone = _reimport(blob, drift_threshold=0.05)
    twin_users = [msgspec.msgpack.decode(msgspec.msgpack.encode(p), type=Profile) for p in users]
    global SEG
    outs: list[object] = []
    for s, us in ((seg, users), (clone, twin_users)):
        SEG = s
        outs.append([_session(p, _taste((i + 1) % 3, i)) for i, p in enumerate(us)])
        outs.append(_export(s))
    assert outs[0] == outs[2] and outs[1] == outs[3]


def test_an_off_focus_session_does_not_move_a_user_but_a_lasting_shift_does():
    seg, users = _trained()
    global SEG
    SEG = seg
    stayer, shifter = users[0], users[3]  # both group 0
    home = stayer.bsegment
    assert home is not None and shifter.bsegment == home
    # one long evening on books: a dozen views in one session, then back to normal
    moves = _session(stayer, ["books"] * 12) + _session(stayer, _taste(0, 1))
    assert not any(moves) and stayer.bsegment == home
    # a real change of taste: session after session of the other group
    moved = []
    for k in range(4):
        moved += _session(shifter, _taste(1, k))
    new = [m for m in moved if m]
    assert new and shifter.bsegment == users[1].bsegment != home


def test_repeats_in_a_session_are_damped_and_a_new_session_restarts_the_count():
    p = Profile(user_id="u", first_seen=0.0, last_seen=0.0, sessions=1)
    for _ in range(10):
        fold_interaction(p, "fashion", None, alpha=0.1, max_categories=8)
    one_session = p.behaviour["fashion"]
    q = Profile(user_id="u", first_seen=0.0, last_seen=0.0)
    for s in range(10):
        q.sessions = s + 1
        fold_interaction(q, "fashion", None, alpha=0.1, max_categories=8)
    assert one_session < 0.5 * q.behaviour["fashion"]
    assert p.behaviour_n == q.behaviour_n == 10


def test_vector_stays_bounded_and_input_cannot_collide_with_its_own_keys():
    p = Profile(user_id="u", first_seen=0.0, last_seen=0.0, sessions=1)
    fold_interaction(p, "outdoor", 50.0, alpha=0.1, max_categories=4)
    fold_interaction(p, "$spend", 1e6, alpha=0.1, max_categories=4)  # a hostile category name
    fold_interaction(p, "$n|outdoor", None, alpha=0.1, max_categories=4)
    assert set(category_mix(p)) == {"outdoor", "$spend", "$n|outdoor"}
    lp = math.log10(51.0)  # the price went into the spend level, not into a share
    assert p.behaviour[SPEND_KEY] == lp + 0.2 * (math.log10(1.0 + 1e6) - lp)
    for i in range(500):  # one session over 500 categories: shares and counts stay capped
        fold_interaction(p, f"c{i}", 5.0, alpha=0.1, max_categories=4)
    assert len(category_mix(p)) <= 4
    assert len(p.behaviour) <= 2 * 4 + 2
    fold_interaction(p, "", None, alpha=0.1, max_categories=4)  # ignored, no crash
    assert p.behaviour_n == 503


def test_a_category_named_like_a_feature_key_stays_a_separate_feature():
    seg, _ = _trained()
    p = Profile(user_id="x", first_seen=0.0, last_seen=0.0, sessions=1)
    for _ in range(5):
        fold_interaction(p, "$spend", 9.0, alpha=0.2, max_categories=8)
    x = seg.features(p)
    assert x["$$spend"] == 1.0 and 0.0 < x[SPEND_KEY] < 1.0
    assert seg.observe(p) is not None


def test_a_profile_from_before_session_counts_still_gets_assigned():
    seg, _ = _trained()
    old = Profile(user_id="old", first_seen=0.0, last_seen=0.0, behaviour_n=20,
                  behaviour={"books": 0.5, "electronics": 0.3, SPEND_KEY: 1.5})
    mv = seg.observe(old)
    assert mv is not None and mv.new == seg.predict_one(old)


_SCRIPT = """
import msgspec
from tests.unit.learning import test_segmenter as t
seg, users = t._trained(seed=9)
print(msgspec.msgpack.encode(seg.to_state()).hex(), [p.bsegment for p in users])
"""


def test_same_input_gives_the_same_state_whatever_the_string_hash_seed():
    outs = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        r = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120, check=True)
        outs.add(r.stdout)
    assert len(outs) == 1
