"""Pseudonymization of user ids: keyed hashing (HMAC-SHA256) before anything is stored.

With ``EngineConfig.pseudonymize_key`` set, the engine keys profiles, the changelog,
decisions, segment changes and the latest-decision topic by :func:`pseudonymize` of the
user key (``user_id``, else ``anonymous_id``) instead of the raw id. A storefront that
holds the same key computes the same pseudonym to look a user up.

>>> pseudonymize(b"pepper", "u1") == pseudonymize(b"pepper", "u1")
True
>>> pseudonymize(b"pepper", "u1") != pseudonymize(b"other", "u1")
True
>>> len(pseudonymize(b"pepper", "u1"))
32
"""

from __future__ import annotations

import hashlib
import hmac

#: Hex characters kept from the HMAC-SHA256 digest (128 bits).
PSEUDONYM_LEN = 32


def pseudonymize(key: bytes, user_id: str) -> str:
    """``hex(HMAC-SHA256(key, utf8(user_id)))[:32]``: stable for a key, not reversible without it."""
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_LEN]


__all__ = ["PSEUDONYM_LEN", "pseudonymize"]
