"""murmur2 partitioning exactly like Kafka's Java client."""

from __future__ import annotations

import random

import pytest

from streams.partitioning import murmur2, partition_for

# Kafka's own UtilsTest.testMurmur2 (org.apache.kafka.common.utils), signed 32-bit.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "expected"), sorted(JAVA_MURMUR2.items()))
def test_murmur2_matches_java(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


@pytest.mark.parametrize(("key", "expected"), sorted(JAVA_MURMUR2.items()))
def test_partition_is_java_to_positive_mod(key: bytes, expected: int) -> None:
    # Java: Utils.toPositive(murmur2(key)) % numPartitions, toPositive = & 0x7fffffff
    for n in (1, 3, 8, 12, 100):
        assert partition_for(key, n) == (expected & 0x7FFFFFFF) % n


def _reference(data: bytes) -> int:
    """A straight transcription of the Java code (every tail length), for cross-checking."""
    length, m, h = len(data), 0x5BD1E995, (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i: 4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = data[length & ~3:]
    if len(rest) == 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if rest:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def test_every_length_and_byte_value() -> None:
    rng = random.Random(5)
    for length in range(0, 40):
        for _ in range(20):
            key = bytes(rng.randrange(256) for _ in range(length))
            assert murmur2(key) == _reference(key)
    assert murmur2(b"") == _reference(b"")


def test_spread_and_bad_count() -> None:
    parts = {partition_for(f"user-{i}".encode(), 8) for i in range(200)}
    assert parts == set(range(8))
    with pytest.raises(ValueError):
        partition_for(b"x", 0)
