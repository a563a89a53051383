"""Storefront-side client: the latest personalization decision per user, in memory.

:class:`DecisionCache` warms from the compacted latest-decisions topic and keeps
following it, so a storefront answers ``cache.get(user_id)`` with a dict lookup.
"""

from streams.storefront.cache import DecisionCache, DecisionCacheError

__all__ = ["DecisionCache", "DecisionCacheError"]
