"""Hash-based experiment assignment: stable, independent across experiments, right fraction."""

from __future__ import annotations

from models.offers import Experiment, assign, bucket


def test_assignment_is_a_stable_hash():
    # pinned: a change of the hash would silently move users between arms
    assert bucket("u1", "home-banner") == 0.4946696789556891
    assert assign("u1", Experiment("home-banner", 0.5)) == assign("u1", Experiment("home-banner", 0.5))


def test_pinned_value_matches_sha256():
    import hashlib

    digest = hashlib.sha256(b"experiment\x1fhome-banner\x1fu1").digest()
    assert bucket("u1", "home-banner") == int.from_bytes(digest[:8], "big") / 2**64


def test_holdout_fraction_within_tolerance_over_10k_users():
    for fraction in (0.05, 0.1, 0.5):
        exp = Experiment("x", fraction)
        control = sum(assign(f"user-{i}", exp).arm == "control" for i in range(10_000))
        assert abs(control / 10_000 - fraction) < 0.015, (fraction, control)


def test_experiments_hash_independently():
    a, b = Experiment("one", 0.5), Experiment("two", 0.5)
    same = sum(assign(f"u{i}", a).arm == assign(f"u{i}", b).arm for i in range(4000))
    assert 0.45 < same / 4000 < 0.55


def test_edge_fractions():
    assert all(assign(f"u{i}", Experiment("x", 0.0)).arm == "treatment" for i in range(200))
    assert all(assign(f"u{i}", Experiment("x", 1.0)).arm == "control" for i in range(200))
