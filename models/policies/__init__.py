"""Decision policies: given a user's context, what to show and why."""

from models.policies.context import DecisionContext, Policy, PolicyAnswer
from models.policies.segment_popularity import SegmentPopularityPolicy

__all__ = ["DecisionContext", "Policy", "PolicyAnswer", "SegmentPopularityPolicy"]
