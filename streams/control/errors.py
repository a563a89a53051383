"""The error of a rejected control record: :class:`ControlError`."""

from __future__ import annotations

#: Longest key shown in messages (keys of rejected records may be anything).
_MAX_KEY_SHOWN = 80


def show_key(key: bytes | str | None) -> str:
    """A key for messages and logs: text as is (cut), bytes decoded or escaped, ``<no key>``.

    >>> show_key(b"vip"), show_key(None), show_key(b"\\xff"), len(show_key("x" * 500))
    ('vip', '<no key>', "b'\\\\xff'", 83)
    """
    if key is None:
        return "<no key>"
    if isinstance(key, bytes):
        try:
            key = key.decode("utf-8")
        except UnicodeDecodeError:
            return repr(key[:_MAX_KEY_SHOWN])
    key = key if key.isprintable() else repr(key)
    return key if len(key) <= _MAX_KEY_SHOWN else key[:_MAX_KEY_SHOWN] + "..."


class ControlError(ValueError):
    """A control record (or file) that was rejected; the previous state stays in force.

    ``str()`` is ``<topic>:<key>: <reason>``: where the record is and what is wrong,
    never the payload.

    >>> str(ControlError("personalization.segment-definitions", "vip", "bad rule"))
    'personalization.segment-definitions:vip: bad rule'
    """

    def __init__(self, topic: str, key: str, reason: str) -> None:
        super().__init__(topic, key, reason)
        self.topic = topic
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.topic}:{self.key}: {self.reason}"
