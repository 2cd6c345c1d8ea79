"""The one venue registry: every venue's parts resolve, each names the venue it is filed
under, and the lists that used to be written out separately derive from it."""

from __future__ import annotations

import pytest

from pipeline.errors import UnknownVenueError
from pipeline.venues import registry


@pytest.mark.parametrize("venue", registry.VENUES)
def test_every_part_of_a_venue_resolves_and_names_its_venue(venue: str) -> None:
    assert registry.normalizer_for(venue).venue == venue
    assert registry.normalizer_for(venue) is registry.normalizer_for(venue)  # one instance
    assert registry.capabilities(venue).venue == venue
    assert registry.ingestor_class(venue).venue == venue
    assert registry.canceller_class(venue).__module__ == f"pipeline.commands.clients.{venue}"


def test_the_lists_elsewhere_are_the_registry() -> None:
    from pipeline.commands.capabilities import CAPABILITIES
    from pipeline.ingest import INGESTORS
    from pipeline.kafka import RAW_TOPICS
    from pipeline.sim.kits import VENUE_KITS

    assert tuple(INGESTORS) == registry.VENUES
    assert tuple(CAPABILITIES) == registry.VENUES
    assert tuple(f"raw.{venue}" for venue in registry.VENUES) == RAW_TOPICS
    assert set(VENUE_KITS) <= set(registry.VENUES)


def test_symbol_spelling_is_each_venue_s_own() -> None:
    spelled = {v: registry.capabilities(v).venue_symbol("btc/krw") for v in registry.VENUES}
    assert spelled == {"upbit": "KRW-BTC", "binance": "BTCKRW", "coinone": "BTC-KRW",
                       "ssi": "BTC", "futures_gateway": "BTCKRW"}  # fmt: skip
    assert registry.capabilities("binance").venue_symbol(" btcusdt ") == "BTCUSDT"


def test_wire_formats_long_keys_first_for_the_venues_that_have_two() -> None:
    assert registry.wire_formats("upbit") == ("DEFAULT", "SIMPLE")
    assert registry.wire_formats("coinone") == ("DEFAULT", "SHORT")
    assert registry.wire_formats("binance") is None


def test_whether_a_venue_can_say_expired_is_its_mapping_s_word() -> None:
    from pipeline.venues.coinone import mapping as coinone_mapping

    said = {venue: registry.states_expired(venue) for venue in registry.VENUES}
    assert said == {"upbit": False, "binance": True, "coinone": False, "ssi": False,
                    "futures_gateway": True}  # fmt: skip
    assert registry.states_expired("coinone") is coinone_mapping.STATES_EXPIRED
    with pytest.raises(UnknownVenueError):
        registry.states_expired("kraken")


def test_an_unknown_venue_is_refused_by_name() -> None:
    with pytest.raises(UnknownVenueError, match="'kraken'"):
        registry.adapter("kraken")
    with pytest.raises(UnknownVenueError):
        registry.normalizer_for("kraken")
