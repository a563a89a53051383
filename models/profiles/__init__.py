"""Per-user profiles: the state, how events fold into it, and how rules read it."""

from models.profiles.profile import Profile
from models.profiles.update import apply_event, new_profile, prune_days
from models.profiles.view import ProfileAt

__all__ = ["Profile", "ProfileAt", "apply_event", "new_profile", "prune_days"]
