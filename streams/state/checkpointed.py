"""The engine's profile store in the worker: reads through, writes held until checkpoint.

The engine writes changed profiles after every batch; here they wait in ``pending``
until the checkpoint has produced them to the changelog and committed the input
offsets. Only then do they reach the partition store (with the offset), so the local
store never holds state whose input was not committed.

Between the two (a checkpoint taking the writes, then applying them once committed) they
are held ``in_flight`` and still read from there: the web view (``/users/{id}``, another
thread) must not see a user vanish for the length of a checkpoint.

Whether the backing already holds a user is known for nearly every write without asking
it: the engine reads each user before writing it, and a read that reaches the backing
(or the writes a checkpoint applied) tells. The backing keeps its user count from that
instead of one extra lookup per written profile (about 40% of RocksDB's apply).

Encoding the held writes is most of a checkpoint's pause (a few milliseconds per
partition, at ~10 us a profile). The data plane calls :meth:`encode_ahead` when its input
queue is empty, so that a checkpoint finds most held writes already encoded and only
encodes the ones changed since. An encoding is dropped as soon as its profile may change:
when the profile is written again, read (the engine reads a profile before changing it in
place), or walked by :meth:`items`. So a take returns exactly what encoding every held
write at that moment returns (tests/unit/state/test_checkpointed.py holds it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from models.profiles.profile import Profile
from models.state.codec import decode_profile, encode_profile
from streams.state.partition import PartitionStore


class CheckpointedStore:
    """A :class:`models.state.store.ProfileStore` over a :class:`PartitionStore`."""

    def __init__(self, backing: PartitionStore) -> None:
        self.backing = backing
        self.pending: dict[str, Profile | None] = {}
        #: Writes a checkpoint took and has not yet applied to ``backing``.
        self.in_flight: dict[str, Profile | None] = {}
        #: Whether ``backing`` holds a user, for the users read from it (or applied to it)
        #: since the last take; what a take finds here goes with its writes.
        self._presence: dict[str, bool] = {}
        self._taken_presence: dict[str, bool] = {}
        #: Held writes encoded ahead of the next take, still equal to their profiles.
        self._encoded: dict[str, bytes] = {}
        #: Held users whose encoding is missing or dropped (a dict: ordered, no duplicates).
        self._stale: dict[str, None] = {}

    def get(self, user_id: str) -> Profile | None:
        pending = self.pending
        if user_id in pending:
            # the caller may change it in place: its encoding ahead is no longer safe
            self._encoded.pop(user_id, None)
            self._stale[user_id] = None
            return pending[user_id]
        in_flight = self.in_flight
        if user_id in in_flight:
            return in_flight[user_id]
        raw = self.backing.get(user_id)
        self._presence[user_id] = raw is not None
        return decode_profile(raw) if raw is not None else None

    def write_many(self, updates: Mapping[str, Profile | None]) -> None:
        encoded = self._encoded
        if encoded:
            for user in updates:
                encoded.pop(user, None)
        self._stale.update(dict.fromkeys(updates))
        self.pending.update(updates)

    def encode_ahead(self, limit: int) -> int:
        """Encode up to ``limit`` held writes not encoded yet (most recently written last);
        returns how many were looked at (0: nothing left to do)."""
        stale, encoded, pending = self._stale, self._encoded, self.pending
        done = 0
        while done < limit:
            try:
                user, _ = stale.popitem()
            except KeyError:  # empty (a reader on another thread may add meanwhile)
                break
            done += 1
            profile = pending.get(user)
            if profile is not None:
                encoded[user] = encode_profile(profile)
        return done

    def items(self) -> Iterator[tuple[str, Profile]]:
        """Every profile in key order, decoded one at a time: the stored ones merged with
        the held writes (which win; ``None`` hides a stored profile). Never all in memory
        (the engine walks this on every assignment and rules change)."""
        self._stale.update(dict.fromkeys(self._encoded))  # the walker may change any of them
        self._encoded = {}
        pending = sorted(self.pending.items())
        i, n = 0, len(pending)
        for user, raw in self.backing.items():
            while i < n and pending[i][0] < user:
                held_user, held = pending[i]
                i += 1
                if held is not None:
                    yield held_user, held
            if i < n and pending[i][0] == user:
                held = pending[i][1]
                i += 1
                if held is not None:
                    yield user, held
                continue
            yield user, decode_profile(raw)
        for held_user, held in pending[i:]:
            if held is not None:
                yield held_user, held

    def __len__(self) -> int:
        extra = 0
        for user, profile in self.pending.items():
            stored = self.backing.get(user) is not None
            extra += (profile is not None and not stored) - (profile is None and stored)
        return self.backing.count() + extra

    def take_pending(self) -> dict[str, bytes | None]:
        """The held writes, encoded, in key order; the buffer is emptied. They stay
        readable (``in_flight``) until :meth:`apply_taken` (or
        :meth:`return_in_flight`)."""
        ahead = self._encoded
        out = {u: (ahead.get(u) or encode_profile(p) if p is not None else None)
               for u, p in sorted(self.pending.items())}
        self._encoded = {}
        self._stale = {}
        presence = self._presence
        self._taken_presence = {u: presence[u] for u in out if u in presence}
        self._presence = {}
        self.in_flight = self.pending  # readers look in pending, then here: never a gap
        self.pending = {}
        return out

    def apply_taken(self, encoded: Mapping[str, bytes | None], meta: Mapping[str, bytes | None]) -> None:
        """Write what :meth:`take_pending` returned (and ``meta``) to ``backing``: the
        checkpoint committed. The writes are read from there from now on."""
        self.backing.apply(encoded, meta, known=self._taken_presence)
        presence = self._presence
        for user, profile in self.in_flight.items():
            presence[user] = profile is not None
        self._taken_presence = {}
        self.in_flight = {}

    def return_in_flight(self) -> None:
        """The checkpoint failed to commit: the taken writes are held again for the next
        one (a newer write held since wins)."""
        for user, profile in self.in_flight.items():
            if user not in self.pending:
                self.pending[user] = profile
                self._stale[user] = None
        self._taken_presence = {}  # read again from the backing when next taken
        self.in_flight = {}
