"""Pseudonymization: with a key, no raw user id reaches state, the changelog or outputs."""

from __future__ import annotations

import msgspec
from pydantic import SecretStr

from models.config import EngineConfig
from models.engine.batch import BatchOutput, InputRecord
from models.engine.engine import Engine
from models.privacy import pseudonymize
from models.segments import DEFAULT_RULES_PATH, load_rules
from streams.service import build_data_plane, check_supported
from streams.settings import Settings
from tests.factories import at, event, purchase, raw

RULES = load_rules(DEFAULT_RULES_PATH)
KEY = b"pepper-for-tests"
ALICE = "alice-raw-id-7c1"
ANON = "anon-raw-id-9f2"


def _workload() -> list[InputRecord]:
    anon = event("product_view", None, at(0.5), item_id="sku-2", category="hats", price=9.0)
    anon["anonymous_id"] = ANON
    evs = [
        event("identify", ALICE, at(0), traits={"age": 30, "area_type": "urban"}),
        event("consent", ALICE, at(0.1), personalization=True),
        event("page_view", ALICE, at(0.2), path="/"),
        event("product_view", ALICE, at(0.3), item_id="sku-1", category="shoes", price=20.0),
        event("add_to_cart", ALICE, at(0.4), item_id="sku-1", category="shoes", price=20.0),
        purchase(ALICE, at(1), [("sku-1", "shoes", 20.0)]),
        anon,
    ]
    return [InputRecord(raw(e)) for e in evs]


def _everything_emitted(engine: Engine, out: BatchOutput) -> bytes:
    parts = [msgspec.json.encode(r) for r in (*out.decisions, *out.segment_changes)]
    for user, profile in out.state_updates.items():  # what the changelog gets
        parts.append(user.encode())
        parts.append(msgspec.msgpack.encode(profile))
    parts.extend(msgspec.msgpack.encode(p) + u.encode() for u, p in engine.store.items())
    parts.append(engine.export_state())
    return b"\n".join(parts)


def test_no_raw_id_reaches_state_changelog_or_outputs() -> None:
    engine = Engine(RULES, EngineConfig(pseudonymize_key=KEY))
    out = engine.process_many(_workload())
    assert out.outcomes == {"ok": 7} and out.decisions and out.segment_changes
    blob = _everything_emitted(engine, out)
    assert ALICE.encode() not in blob and ANON.encode() not in blob
    alice, anon = pseudonymize(KEY, ALICE), pseudonymize(KEY, ANON)
    assert {d.user_id for d in out.decisions} == {alice, anon}
    assert {c.user_id for c in out.segment_changes} <= {alice, anon}
    assert set(out.state_updates) == {alice, anon}
    assert engine.lookup(ALICE) is not None and engine.lookup(ALICE).user_id == alice  # type: ignore[union-attr]
    assert engine.recommend(ALICE) == engine.recommend(ALICE)


def test_same_key_same_pseudonym_and_same_outputs() -> None:
    assert pseudonymize(KEY, ALICE) == pseudonymize(KEY, ALICE)
    assert pseudonymize(KEY, ALICE) != pseudonymize(b"another-key", ALICE)
    assert pseudonymize(KEY, ALICE) != pseudonymize(KEY, ANON)
    records = _workload()  # same event ids for every engine
    a, b = (Engine(RULES, EngineConfig(pseudonymize_key=KEY)).process_many(records) for _ in range(2))
    assert msgspec.json.encode(a.decisions) == msgspec.json.encode(b.decisions)
    other = Engine(RULES, EngineConfig(pseudonymize_key=b"another-key")).process_many(records)
    assert {d.user_id for d in other.decisions}.isdisjoint({d.user_id for d in a.decisions})


def test_without_a_key_state_is_keyed_by_the_raw_id() -> None:
    out = Engine(RULES).process_many(_workload())
    assert {d.user_id for d in out.decisions} == {ALICE, ANON}


def test_erasing_the_raw_id_erases_the_pseudonymized_state() -> None:
    engine = Engine(RULES, EngineConfig(pseudonymize_key=KEY))
    engine.process_many(_workload())
    alice = pseudonymize(KEY, ALICE)
    assert engine.store.get(alice) is not None
    out = engine.process_many([InputRecord(raw(event("erase", ALICE, at(2))))])
    assert out.outcomes == {"erased": 1}
    assert out.state_updates == {alice: None}  # the changelog tombstone is the pseudonym's
    assert engine.lookup(ALICE) is None and engine.store.get(alice) is None
    assert out.segment_changes
    assert all(c.user_id == alice and c.change == "exited" for c in out.segment_changes)
    assert ALICE.encode() not in _everything_emitted(engine, out)
    assert engine.lookup(ANON) is not None  # only the erased user


def test_the_key_is_never_shown() -> None:
    cfg = EngineConfig(pseudonymize_key=KEY)
    assert KEY.decode() not in repr(cfg) and KEY.decode() not in str(cfg)


def test_the_worker_accepts_and_wires_the_setting() -> None:
    settings = Settings(_env_file=None, pseudonymize_key=SecretStr("pepper-123"))  # type: ignore[call-arg]
    check_supported(settings)  # no longer refused
    plane = build_data_plane(settings, RULES)
    assert plane.cfg.engine_config.pseudonymize_key == b"pepper-123"
    unset = build_data_plane(Settings(_env_file=None), RULES)  # type: ignore[call-arg]
    assert unset.cfg.engine_config.pseudonymize_key is None
