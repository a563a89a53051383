"""The synthetic clickstream generator: exact counts, validity, order, determinism, truth."""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from schemas.decode import REJECTION_REASONS, Rejection, decode_event
from schemas.events import Consent, Erase, EventBase, Identify, ProductView, Purchase
from streams.generator import GROUPS, generate, truth_path
from streams.generator.command import generate as generate_cmd

USERS = 300
EVENTS = 20_000
SEED = 11


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("gen") / "events.jsonl"
    summary = generate(USERS, EVENTS, SEED, out)
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    decoded = [decode_event(line) for line in lines]
    truth_lines = truth_path(out).read_bytes().splitlines()
    meta = msgspec.json.decode(truth_lines[0])
    truth = {t["user_id"]: t for t in map(msgspec.json.decode, truth_lines[1:])}
    return summary, out, lines, decoded, meta, truth


def _events(decoded: list[EventBase | Rejection]) -> list[EventBase]:
    return [e for e in decoded if isinstance(e, EventBase)]


def _group_at(truth_rec: dict, when: datetime) -> str:
    group = truth_rec["groups"][0]["group"]
    for g in truth_rec["groups"][1:]:
        if when >= datetime.fromisoformat(g["from"]):
            group = g["group"]
    return group


def test_exact_line_count(run) -> None:
    summary, _, lines, *_ = run
    assert len(lines) == EVENTS
    assert summary.events == EVENTS
    assert all(b"\n" not in line and line for line in lines)


def test_valid_lines_decode_and_malformed_are_rejected(run) -> None:
    summary, _, _, decoded, *_ = run
    rejected = [d for d in decoded if isinstance(d, Rejection)]
    assert len(rejected) == summary.malformed == round(EVENTS * 0.002)
    assert all(r.reason in REJECTION_REASONS for r in rejected)
    reasons = Counter(r.reason for r in rejected)
    assert {"malformed_json", "wrong_type", "missing_user", "unknown_type", "too_long"} <= set(
        reasons
    )
    assert reasons["out_of_range"] + reasons["malformed_json"] > reasons["malformed_json"] // 2
    types = Counter(type(e).__name__ for e in _events(decoded))
    for name in ("PageView", "ProductView", "Search", "AddToCart", "Purchase", "Identify"):
        assert types[name] > 0, name
    assert types["ProductView"] > types["AddToCart"] > types["Purchase"]


def test_sorted_by_event_time(run) -> None:
    _, _, _, decoded, *_ = run
    times = [e.event_time for e in _events(decoded)]
    assert times == sorted(times)
    assert times[0] >= datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    assert times[-1] < datetime.fromisoformat("2026-04-01T01:00:00+00:00")


def test_same_seed_same_bytes_other_seed_differs(run, tmp_path: Path) -> None:
    _, out, *_ = run
    again = tmp_path / "a" / "events.jsonl"
    generate(USERS, EVENTS, SEED, again)
    assert _sha(again) == _sha(out)
    assert _sha(truth_path(again)) == _sha(truth_path(out))
    other = tmp_path / "b" / "events.jsonl"
    generate(USERS, EVENTS, SEED + 1, other)
    assert _sha(other) != _sha(out)


def test_gzip_output_is_reproducible_and_same_content(run, tmp_path: Path) -> None:
    _, out, *_ = run
    gz1 = tmp_path / "1" / "events.jsonl.gz"
    gz2 = tmp_path / "2" / "events.jsonl.gz"
    generate(USERS, EVENTS, SEED, gz1)
    generate(USERS, EVENTS, SEED, gz2)
    assert _sha(gz1) == _sha(gz2)
    assert gzip.decompress(gz1.read_bytes()) == out.read_bytes()
    assert truth_path(gz1) == tmp_path / "1" / "events.truth.jsonl"
    assert truth_path(gz1).read_bytes() == truth_path(out).read_bytes()


def test_truth_consistent(run) -> None:
    _, _, _, decoded, meta, truth = run
    assert meta["kind"] == "meta" and meta["seed"] == SEED
    assert meta["users"] == USERS and meta["events"] == EVENTS
    assert [g["name"] for g in meta["groups"]] == [g.name for g in GROUPS]
    assert len(truth) == USERS
    user_ids = {e.user_id for e in _events(decoded) if e.user_id is not None}
    assert user_ids <= set(truth)
    assert len(user_ids) == USERS  # every user is active at this size
    shifted = [t for t in truth.values() if len(t["groups"]) == 2]
    assert abs(len(shifted) / USERS - 0.2) < 0.02
    start = datetime.fromisoformat("2026-01-01T00:00:00+00:00").timestamp()
    span = 90 * 86_400
    for t in shifted:
        first, second = t["groups"]
        assert first["group"] != second["group"]
        at = datetime.fromisoformat(second["from"]).timestamp()
        assert start + span / 3 <= at < start + 2 * span / 3


def test_taste_signal_per_group(run) -> None:
    _, _, _, decoded, meta, truth = run
    dominant = {g["name"]: set(g["top_categories"]) for g in meta["groups"]}
    views: dict[str, Counter[str]] = defaultdict(Counter)
    for e in _events(decoded):
        if isinstance(e, ProductView) and e.user_id is not None:
            g = _group_at(truth[e.user_id], e.event_time)
            views[g][e.properties.category or ""] += 1
    assert set(views) == set(dominant)
    for g, counts in views.items():
        share = sum(counts[c] for c in dominant[g]) / sum(counts.values())
        assert share > 0.65, (g, share)
        # and the dominant categories of other groups are clearly rarer
        assert counts.most_common(1)[0][0] in dominant[g]


def test_shifted_users_follow_their_new_group(run) -> None:
    _, _, _, decoded, meta, truth = run
    dominant = {g["name"]: set(g["top_categories"]) for g in meta["groups"]}
    after: Counter[str] = Counter()
    for e in _events(decoded):
        if isinstance(e, ProductView) and e.user_id is not None:
            t = truth[e.user_id]
            if len(t["groups"]) == 2 and e.event_time >= datetime.fromisoformat(
                t["groups"][1]["from"]
            ):
                new, old = t["groups"][1]["group"], t["groups"][0]["group"]
                after["new"] += (e.properties.category or "") in dominant[new]
                after["old_only"] += (e.properties.category or "") in (
                    dominant[old] - dominant[new]
                )
    assert after["new"] > 3 * after["old_only"]


def test_erased_users_have_nothing_after_erase(run) -> None:
    _, _, lines, decoded, _, truth = run
    erased = {e.user_id: e.event_time for e in _events(decoded) if isinstance(e, Erase)}
    assert erased, "expected at least one erasure"
    for uid, when in erased.items():
        assert uid is not None
        assert truth[uid]["erased_at"]
        later = [e for e in _events(decoded) if e.user_id == uid and e.event_time > when]
        assert later == []
        mentions = [line for line in lines if uid.encode() in line]
        assert b'"type":"erase"' in mentions[-1]


def test_identify_consent_and_anonymous(run) -> None:
    _, _, _, decoded, _, truth = run
    first: dict[str, EventBase] = {}
    for e in _events(decoded):
        if e.user_id is not None:
            first.setdefault(e.user_id, e)
    assert all(isinstance(e, Identify) for e in first.values())
    ages = [e.properties.traits.age for e in first.values() if isinstance(e, Identify)]
    assert all(a is not None and 18 <= a <= 80 for a in ages)
    grants = [
        e for e in _events(decoded) if isinstance(e, Consent) and e.properties.personalization
    ]
    assert len({e.user_id for e in grants}) > 0.8 * USERS
    anon = [e for e in _events(decoded) if e.user_id is None]
    assert anon and all(e.anonymous_id for e in anon)
    linked = {
        e.properties.previous_anonymous_id
        for e in _events(decoded)
        if isinstance(e, Identify) and e.properties.previous_anonymous_id
    }
    assert {e.anonymous_id for e in anon} <= linked
    assert linked <= {t.get("anonymous_id") for t in truth.values()}


def test_purchases_are_consistent_and_rebuys_exist(run) -> None:
    _, _, _, decoded, *_ = run
    bought: dict[str, Counter[str]] = defaultdict(Counter)
    for e in _events(decoded):
        if isinstance(e, Purchase):
            p = e.properties
            assert p.currency == "EUR"
            assert p.revenue == pytest.approx(
                round(sum(i.price * i.quantity for i in p.items), 2), abs=0.005
            )
            for i in p.items:
                bought[e.user_id or ""][i.item_id] += 1
    rebuys = sum(1 for c in bought.values() for n in c.values() if n > 1)
    assert rebuys > 10


@pytest.mark.parametrize(
    ("users", "events", "malformed"), [(1, 1, 0.0), (5, 7, 0.0), (50, 3_001, 0.01), (10, 0, 0.0)]
)
def test_exact_counts_small(tmp_path: Path, users: int, events: int, malformed: float) -> None:
    out = tmp_path / "e.jsonl"
    s = generate(users, events, 3, out, days=7, malformed_fraction=malformed)
    data = out.read_bytes()
    assert data.count(b"\n") == events == s.events
    bad = sum(isinstance(decode_event(x), Rejection) for x in data.splitlines())
    assert bad == round(events * malformed)


def test_cli(tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(
        generate_cmd, ["--users", "20", "--events", "500", "--seed", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 500 events" in result.output
    assert out.read_bytes().count(b"\n") == 500
    assert truth_path(out).exists()
    help_text = CliRunner().invoke(generate_cmd, ["--help"]).output
    for opt in (
        "--users",
        "--events",
        "--seed",
        "--out",
        "--days",
        "--shift-fraction",
        "--malformed-fraction",
    ):
        assert opt in help_text
