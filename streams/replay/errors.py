"""Errors a user can cause when replaying (unreadable input, bad mapping, bad options)."""

from __future__ import annotations

__all__ = ["ReplayInputError"]


class ReplayInputError(ValueError):
    """Input that cannot be read at all; the message names the file (and line) and why."""
