"""Profile (de)serialization for durable stores and changelogs: msgpack via msgspec."""

from __future__ import annotations

import msgspec

from models.profiles.profile import Profile

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Profile)


def encode_profile(profile: Profile) -> bytes:
    return _encoder.encode(profile)


def decode_profile(data: bytes) -> Profile:
    return _decoder.decode(data)
