"""Frequency caps and cooldowns per user x placement, kept in the user's profile.

``Profile.exposures[placement]`` holds the times (event time, seconds) of the user's recent
offer exposures on that placement: only those inside the cap window, at most the cap (older
ones are pruned whenever the list is touched), and only when a cap is configured, so a
profile's exposure lists are bounded by ``cap x placements``. ``Profile.responses[placement]``
holds the time of the user's last click or conversion there, for the cooldown; it is dropped
once the cooldown is over.

>>> from models.profiles.profile import Profile
>>> p = Profile(user_id="u", first_seen=0.0, last_seen=0.0)
>>> rule = CapRule(max_exposures=2, window_s=3600.0, cooldown_s=600.0)
>>> record_exposure(p, "home", 0.0, rule); record_exposure(p, "home", 10.0, rule)
>>> capped(p, "home", 20.0, rule)
'frequency cap: 2 exposures of home in the last 1 h (max 2)'
>>> capped(p, "home", 3601.0, rule) is None
True
>>> record_response(p, "home", 4000.0)
>>> capped(p, "home", 4100.0, rule)
'cooldown: clicked home 100 s ago (cooldown 600 s)'
"""

from __future__ import annotations

from dataclasses import dataclass

from models.profiles.profile import Profile


@dataclass(frozen=True, slots=True)
class CapRule:
    """At most ``max_exposures`` per ``window_s`` (None: no cap); none for ``cooldown_s`` after
    a click or conversion (0: no cooldown)."""

    max_exposures: int | None = None
    window_s: float = 86_400.0
    cooldown_s: float = 0.0


def _human(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds:.0f} s"


def _prune(times: list[float], now: float, rule: CapRule) -> list[float]:
    start = now - rule.window_s
    kept = [t for t in times if t > start]
    if rule.max_exposures is not None and len(kept) > rule.max_exposures:
        kept = kept[-rule.max_exposures:]
    return kept


def capped(profile: Profile, placement: str, now: float, rule: CapRule) -> str | None:
    """Why ``placement`` must not show an offer to this user at ``now``, or None."""
    if rule.cooldown_s > 0:
        last = profile.responses.get(placement)
        if last is not None:
            if now - last < rule.cooldown_s:
                return (f"cooldown: clicked {placement} {now - last:.0f} s ago "
                        f"(cooldown {_human(rule.cooldown_s)})")
            del profile.responses[placement]
    if rule.max_exposures is not None:
        times = profile.exposures.get(placement)
        if times:
            kept = _prune(times, now, rule)
            if kept:
                profile.exposures[placement] = kept
            else:
                del profile.exposures[placement]
            if len(kept) >= rule.max_exposures:
                return (f"frequency cap: {len(kept)} exposures of {placement} in the last "
                        f"{_human(rule.window_s)} (max {rule.max_exposures})")
    return None


def record_exposure(profile: Profile, placement: str, now: float, rule: CapRule) -> None:
    """Remember an exposure at ``now`` (only when a cap is configured; pruned, bounded)."""
    if rule.max_exposures is None:
        return
    times = profile.exposures.get(placement, [])
    profile.exposures[placement] = _prune([*times, now], now, rule)


def record_response(profile: Profile, placement: str, ts: float) -> None:
    """Remember a click or conversion at ``ts`` for the cooldown (the latest wins)."""
    last = profile.responses.get(placement)
    if last is None or ts > last:
        profile.responses[placement] = ts


__all__ = ["CapRule", "capped", "record_exposure", "record_response"]
