"""``iso_of`` writes exactly what ``datetime.isoformat`` writes (outputs keep their bytes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from models.engine.ids import iso, iso_of

offsets = st.one_of(
    st.just(UTC),
    st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
    # not whole minutes: msgspec would round these, isoformat writes seconds
    st.integers(-86_399, 86_399).map(lambda s: timezone(timedelta(seconds=s))),
    st.none(),
)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets))
def test_same_text_as_isoformat(dt: datetime) -> None:
    assert iso_of(dt) == dt.isoformat()


@given(st.floats(min_value=-62_000_000_000, max_value=253_000_000_000, allow_nan=False))
def test_iso_of_posix_seconds(ts: float) -> None:
    assert iso(ts) == datetime.fromtimestamp(ts, UTC).isoformat()


@given(st.datetimes(timezones=st.just(UTC)))
def test_decoded_event_times_round_trip(dt: datetime) -> None:
    # what the engine formats: times msgspec decoded from RFC 3339 text
    decoded = msgspec.json.decode(msgspec.json.encode(dt), type=datetime)
    assert iso_of(decoded) == decoded.isoformat()
    assert datetime.fromisoformat(iso_of(decoded)) == dt
