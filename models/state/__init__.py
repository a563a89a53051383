"""Per-partition user state: the store contract, a memory store, the profile codec."""

from models.state.codec import decode_profile, encode_profile
from models.state.memory import MemoryStore
from models.state.store import ProfileStore

__all__ = ["MemoryStore", "ProfileStore", "decode_profile", "encode_profile"]
