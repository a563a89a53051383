"""Replays of files: determinism, ordering, erasure, dead letters, inputs, what-if."""

from __future__ import annotations

import gzip
import hashlib
import random
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from models.engine import Engine, InputRecord
from models.segments import DEFAULT_RULES_PATH, load_rules
from schemas.outputs import DeadLetter, Decision, SegmentChange
from streams.commands.produce import user_key
from streams.commands.replay import evaluate_command, replay_command
from streams.generator import generate
from streams.partitioning import partition_for
from streams.replay import (
    OUTPUT_FILES,
    CsvMapping,
    ReplayInputError,
    ReplayOptions,
    iter_csv_records,
    iter_jsonl_records,
    replay,
)

RULES = load_rules(DEFAULT_RULES_PATH)
RETAIL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "online_retail_sample.csv"


def hashes(out: Path) -> dict[str, str]:
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in OUTPUT_FILES}


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def run(log: Path, out: Path, **opts: object) -> Path:
    replay(iter_jsonl_records(log), RULES, out, ReplayOptions(**opts))  # type: ignore[arg-type]
    return out


def test_two_replays_are_byte_identical(small_log: Path, tmp_path: Path) -> None:
    a = run(small_log, tmp_path / "a", partitions=4, batch_size=300)
    b = run(small_log, tmp_path / "b", partitions=4, batch_size=300)
    assert hashes(a) == hashes(b)
    assert lines(a / "decisions.jsonl") and lines(a / "segment_changes.jsonl")
    assert (a / "run.json").exists()  # run metadata apart


def test_evaluation_does_not_change_decisions(small_log: Path, tmp_path: Path) -> None:
    a = run(small_log, tmp_path / "a", evaluate=False)
    b = run(small_log, tmp_path / "b", evaluate=True)
    # the same records, byte for byte (evaluation splits batches, so the file order may differ)
    for name in ("decisions.jsonl", "segment_changes.jsonl", "dead_letters.jsonl"):
        assert sorted(lines(a / name)) == sorted(lines(b / name)), name
    assert (a / "profiles.jsonl").read_bytes() == (b / "profiles.jsonl").read_bytes()
    report = msgspec.json.decode((b / "report.json").read_bytes())
    assert report["evaluation"]["summary"]["purchases"] > 0
    assert report["evaluation"]["sections"]["policy_value"]["reason"] == (
        "not available: no logged propensities")


def test_file_order_matches_one_engine_per_partition(tmp_path: Path) -> None:
    """The live worker's path: records routed like the producer (murmur2 on user_key), each
    partition's engine fed in offset order, in its own batches: identical decision bytes."""
    log = tmp_path / "log.jsonl"
    generate(users=200, events=2500, seed=11, out=log, malformed_fraction=0.01, erase_fraction=0.0)
    out = run(log, tmp_path / "r", partitions=3, order="file", batch_size=97, final_advance=False)
    engines = [Engine(RULES) for _ in range(3)]
    by_part: list[list[InputRecord]] = [[], [], []]
    for raw, pos in iter_jsonl_records(log):
        key = user_key(raw)
        by_part[partition_for(key, 3) if key is not None else 0].append(InputRecord(raw, pos))
    assert all(by_part)
    expected: dict[str, bytes] = {}
    enc = msgspec.json.Encoder()
    for p, engine in enumerate(engines):
        for i in range(0, len(by_part[p]), 500):
            for d in engine.process_many(by_part[p][i:i + 500]).decisions:
                expected[d.event_id] = enc.encode(d)
    got = {msgspec.json.decode(x, type=Decision).event_id: x for x in lines(out / "decisions.jsonl")}
    assert len(got) > 1000
    assert got == expected


def test_time_order_sorts_a_shuffled_log(small_log: Path, tmp_path: Path) -> None:
    raw = small_log.read_bytes().splitlines()
    random.Random(1).shuffle(raw)
    shuffled = tmp_path / "shuffled.jsonl.gz"
    shuffled.write_bytes(gzip.compress(b"\n".join(raw) + b"\n", mtime=0))
    a = run(small_log, tmp_path / "a")
    b = run(shuffled, tmp_path / "b")
    assert sorted(lines(a / "decisions.jsonl")) == sorted(lines(b / "decisions.jsonl"))
    assert (a / "profiles.jsonl").read_bytes() == (b / "profiles.jsonl").read_bytes()


def test_spilled_runs_give_the_same_outputs(small_log: Path, tmp_path: Path) -> None:
    a = run(small_log, tmp_path / "a")
    b = run(small_log, tmp_path / "b", chunk_size=400)
    assert hashes(a) == hashes(b)
    assert not [p for p in (tmp_path / "b").iterdir() if p.name.startswith("replay-")]  # spill cleaned


def test_undecodable_lines_are_dead_letters_with_file_and_line(small_log: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    good = small_log.read_bytes().splitlines()[:50]
    log.write_bytes(b"\n".join([*good[:10], b"{not json", b"", *good[10:], b'{"type":"page_view"}']) + b"\n")
    out = run(log, tmp_path / "r")
    dead = [msgspec.json.decode(x, type=DeadLetter) for x in lines(out / "dead_letters.jsonl")]
    found = {(d.source.file, d.source.line, d.reason) for d in dead if d.source is not None}
    assert ("log.jsonl", 11, "malformed_json") in found
    assert ("log.jsonl", 53, "missing_field") in found
    assert any(d.raw == b"{not json" for d in dead)


def test_erasure_list_and_erase_events_never_resurrect(small_log: Path, tmp_path: Path) -> None:
    events = []
    for x in lines(small_log):
        try:
            e = msgspec.json.decode(x)
        except msgspec.DecodeError:
            continue
        if isinstance(e, dict) and isinstance(e.get("user_id"), str):
            events.append(e)
    erased_in_log = {e["user_id"] for e in events if isinstance(e, dict) and e.get("type") == "erase"}
    assert erased_in_log
    victim = next(e["user_id"] for e in events if e.get("type") == "purchase"
                  and e.get("user_id") not in erased_in_log)
    out = tmp_path / "r"
    replay(iter_jsonl_records(small_log), RULES, out, ReplayOptions(erase_list=(victim,)))
    decisions = [msgspec.json.decode(x, type=Decision) for x in lines(out / "decisions.jsonl")]
    changes = [msgspec.json.decode(x, type=SegmentChange) for x in lines(out / "segment_changes.jsonl")]
    profiles = [msgspec.json.decode(x) for x in lines(out / "profiles.jsonl")]
    assert victim not in {d.user_id for d in decisions} | {c.user_id for c in changes}
    assert victim not in {p["user_id"] for p in profiles}
    assert victim.encode() not in (out / "dead_letters.jsonl").read_bytes()
    erase_at = {e["user_id"]: e["event_time"] for e in events if e.get("type") == "erase"}
    for d in decisions:
        if d.user_id in erase_at:
            assert d.event_time >= erase_at[d.user_id].replace("Z", "+00:00")


def test_since_until_limit(small_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    s = replay(iter_jsonl_records(small_log), RULES, out,
               ReplayOptions(since=1767312000.0, until=1767571200.0, limit=50))  # Jan 2 - Jan 5 2026
    assert s.records_replayed + s.withheld_erased == 50
    assert s.excluded_before_since > 0 and s.excluded_after_until > 0 and s.excluded_beyond_limit > 0
    for d in (msgspec.json.decode(x, type=Decision) for x in lines(out / "decisions.jsonl")):
        assert "2026-01-02" <= d.event_time[:10] < "2026-01-05"


def test_unreadable_inputs_name_file_and_reason(tmp_path: Path) -> None:
    with pytest.raises(ReplayInputError, match=r"missing\.jsonl: cannot open"):
        list(iter_jsonl_records(tmp_path / "missing.jsonl"))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"a":1}\n' * 1000)[:-30] + b"garbage!")
    with pytest.raises(ReplayInputError, match=r"broken.jsonl.gz:\d+: cannot read past line"):
        list(iter_jsonl_records(broken))


CSV = """when,who,what,sku,price,qty
2026-01-01 10:00:00,u1,view,sku-1,,
2026-01-01 10:05:00,u1,buy,sku-1,9.5,2
not a time,u2,view,sku-2,,
2026-01-01 11:00:00,u2,teleport,sku-2,,
"""


def test_csv_with_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(CSV)
    mapping_file = tmp_path / "map.yaml"
    mapping_file.write_text("user: who\ntimestamp: when\ntime_format: '%Y-%m-%d %H:%M:%S'\n"
                            "event_type: what\ntype_map: {view: product_view, buy: purchase}\n"
                            "item: sku\nvalue: price\nquantity: qty\n")
    mapping = CsvMapping.load(mapping_file)
    records = list(iter_csv_records(path, mapping))
    assert [p.line for _, p in records if p is not None] == [2, 3, 4, 5]
    out = tmp_path / "r"
    s = replay(iter(records), RULES, out, ReplayOptions(partitions=2))
    assert s.decisions == 2 and s.dead_letters == 2
    dead = {d.source.line: d.reason for d in (msgspec.json.decode(x, type=DeadLetter)
                                              for x in lines(out / "dead_letters.jsonl")) if d.source}
    assert dead == {4: "unknown_type", 5: "unknown_type"}
    purchase = msgspec.json.decode(lines(out / "decisions.jsonl")[1], type=Decision)
    assert purchase.placement == "order_confirmation" and purchase.user_id == "u1"
    with pytest.raises(ReplayInputError, match=r"log.csv:1: column\(s\) nope"):
        list(iter_csv_records(path, CsvMapping.from_pairs(["user=nope", "timestamp=when", "type=page_view"])))


def test_cli_replay_real_purchase_log_and_what_if(tmp_path: Path) -> None:
    out = tmp_path / "retail"
    result = CliRunner().invoke(evaluate_command, [str(RETAIL), "--format", "online-retail", "--out",
                                                   str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    report = msgspec.json.decode((out / "report.json").read_bytes())
    assert report["replay"]["outcomes"]["ok"] > 10_000
    assert report["replay"]["dead_letters"] > 0  # invoices without a customer, bad rows
    ev = report["evaluation"]
    assert ev["bucket"] == "week" and ev["summary"]["purchases"] > 1000
    assert ev["summary"]["model"]["hit_rate"] is not None
    html = (out / "report.html").read_text()
    assert "<svg" in html and "not available: no logged propensities" in html

    changed = tmp_path / "segments.yaml"
    changed.write_text("version: 1\nsegments:\n  - id: big_spender\n    name: Spent 200 in a year\n"
                       "    when: revenue(365d) >= 200\n")
    wi = tmp_path / "whatif"
    result = CliRunner().invoke(replay_command, [str(RETAIL), "--format", "online-retail", "--out",
                                                 str(wi), "--what-if", str(changed), "--no-progress",
                                                 "--until", "2011-03-01"])
    assert result.exit_code == 0, result.output
    diff = msgspec.json.decode((wi / "what_if.json").read_bytes())
    assert diff["users"]["changed_segments"] > 0
    assert diff["decisions"]["compared"] > 0


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    r = CliRunner().invoke(replay_command, [str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"),
                                            "--no-progress"])
    assert r.exit_code != 0 and "nope.jsonl: cannot open" in r.output
    r = CliRunner().invoke(replay_command, [str(tmp_path), "--format", "csv", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "column mapping" in r.output


def test_rocksdb_state_dir_gives_the_same_outputs(small_log: Path, tmp_path: Path) -> None:
    a = run(small_log, tmp_path / "a")
    b = run(small_log, tmp_path / "b", state_dir=tmp_path / "state")
    assert hashes(a) == hashes(b)
    assert any((tmp_path / "state").iterdir())
    with pytest.raises(ReplayInputError, match="must be empty"):
        run(small_log, tmp_path / "c", state_dir=tmp_path / "state")


def test_cli_replay_pseudonymizes_like_the_worker_and_keeps_the_key_out_of_the_report(
    small_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from models.privacy import pseudonymize

    monkeypatch.setenv("PERSONALIZER_PSEUDONYMIZE_KEY", "pepper-for-test")
    out = tmp_path / "pseudo"
    result = CliRunner().invoke(replay_command, [str(small_log), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    decisions = [msgspec.json.decode(line, type=Decision) for line in lines(out / "decisions.jsonl")]
    raw_users = set()
    for line in lines(small_log):
        try:
            ev = msgspec.json.decode(line)
        except msgspec.DecodeError:  # the log has malformed lines on purpose
            continue
        key = ev.get("user_id") or ev.get("anonymous_id") if isinstance(ev, dict) else None
        if isinstance(key, str):
            raw_users.add(key)
    seen = {d.user_id for d in decisions}
    assert decisions and raw_users and not seen & raw_users
    assert seen <= {pseudonymize(b"pepper-for-test", u) for u in raw_users}
    report = (out / "report.json").read_bytes()
    assert b"pepper-for-test" not in report
    assert msgspec.json.decode(report)["options"]["engine_config"]["pseudonymize_key"] == "**********"
