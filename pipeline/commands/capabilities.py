"""What each venue can do when cancelling, as the planner and executor read it.

Each venue states its own in `pipeline.venues.<venue>.capabilities` (partial cancels, scope
cancels, rate limits, how it spells a unified symbol); this module gathers them by venue id
through the registry (`pipeline.venues.registry`).
"""

from __future__ import annotations

from pipeline.venues import registry
from pipeline.venues.capabilities import Partial, ScopeCancel, VenueCapabilities, Window

CAPABILITIES: dict[str, VenueCapabilities] = {
    venue: registry.capabilities(venue) for venue in registry.VENUES
}

__all__ = ["CAPABILITIES", "Partial", "ScopeCancel", "VenueCapabilities", "Window"]
