"""A multi-venue scenario built from the recorded venue payloads in tests/resources/venues.

Each payload file becomes one raw envelope on the channel its venue adapter documents
(schemas/venues/<venue>.md). `scenario_envelopes()` returns them in a fixed order;
`disordered()` adds duplicates and shuffles them (a seeded, reproducible delivery), and
`POISON` lists records that must end up as dead letters.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from pipeline.envelope import RawEnvelope, envelope_key
from pipeline.venues import normalizer_for

RESOURCES = Path(__file__).parent / "resources" / "venues"


def _channel(venue: str, name: str) -> str | None:
    """The channel a recorded payload arrives on, or None for replies with no order state."""
    if venue == "upbit":
        if name.startswith("fixture_rest_orders"):
            return "rest.orders"
        if name.startswith("fixture_rest_order"):
            return "rest.order"
        return "myOrder"
    if venue == "binance":
        if name.startswith("seed004_wsapi_"):
            method = name.removeprefix("seed004_wsapi_").split("_")[0]
            return f"wsapi.{method}"
        if name.startswith("binance_wsapi_"):
            return "wsapi." + name.removeprefix("binance_wsapi_").split("_")[0]
        if name.startswith("fixture_wsapi_"):
            return "wsapi." + name.removeprefix("fixture_wsapi_").split("_")[0]
        if name.startswith("docs_wsapi_"):
            return "wsapi." + name.removeprefix("docs_wsapi_")
        return "userData"
    if venue == "coinone":
        if name.startswith("myorder"):
            return "MYORDER"
        if name.startswith("active_orders"):
            return "rest.active_orders"
        if name.startswith("completed_orders"):
            return "rest.completed_orders"
        if "order_detail" in name:
            return "rest.order_detail"
        if "order_cancel" in name:
            return "rest.order_cancel:BTC-KRW"
        return None
    if venue == "ssi":
        if name.startswith("orderBook"):
            return "rest.orderBook"
        if "orderHistory" in name:
            return "rest.orderHistory"
        if "auditOrderBook" in name:
            return "rest.auditOrderBook"
        if "stream" in name:
            return "stream"
        return None
    if venue == "futures_gateway":
        if name.startswith("order_status"):
            return "rest.order_status"
        if name.startswith("open_orders"):
            return "rest.open_orders"
        if name.startswith("cancel_all"):
            return "rest.cancel_all"
        if name.startswith("trades"):
            return "rest.trades"
        return None
    return None


SKIP = {
    "fixture_myOrder_error_INVALID_AUTH",
    "error_reply",
    "error_reply_rate_limited",
    # reuses the seed's order uuid under another market (SGD-XRP): one order in two symbols
    # cannot happen at a venue, and would put one order in two partitions
    "upbit_ws_myOrder_state_trade_SGD-XRP",
    # the docs' SOR order 2 is BTCUSDT, their OCO's order 2 LTCBNB: one id in two symbols
    "docs_wsapi_sor.order.place",
    "derived_executionReport_SOR_TRADE",
}
# payloads whose content a normalizer rejects on purpose (documented typos in the seeds)
REJECTED = {"seed004_wsapi_order.amend.keepPriority_orderList_BTUCSDT"}


def scenario_envelopes(account: str = "desk-1") -> list[tuple[bytes, RawEnvelope]]:
    """(key, envelope) for every recorded payload with order content, in a fixed order."""
    out: list[tuple[bytes, RawEnvelope]] = []
    received = 1_735_700_000_000
    for venue_dir in sorted(RESOURCES.iterdir()):
        venue = venue_dir.name
        for path in sorted(venue_dir.glob("*.json")):
            name = path.stem
            channel = _channel(venue, name)
            if channel is None or name in SKIP or name in REJECTED:
                continue
            owner = "EXCHANGE_2" if venue == "futures_gateway" else account
            for payload in _per_pair(channel, orjson.loads(path.read_bytes())):
                received += 10
                envelope = RawEnvelope(venue, owner, channel, received, payload)
                out.append((envelope_key(venue, owner, _venue_symbol(envelope)), envelope))
    return out


def _per_pair(channel: str, payload: dict) -> list[dict]:
    """An ingestor polls Coinone's open orders pair by pair (the endpoint takes the pair),
    so each answer holds one pair: split the recorded all-pairs answer the same way."""
    if channel != "rest.active_orders":
        return [payload]
    pairs: dict[tuple[str, str], list] = {}
    for order in payload["active_orders"]:
        pairs.setdefault((order["target_currency"], order["quote_currency"]), []).append(order)
    return [{**payload, "active_orders": orders} for orders in pairs.values()]


def _venue_symbol(envelope: RawEnvelope) -> str:
    """The symbol an ingestor keys this message by (as the venue spells it).

    SSI's order book and stream cover the whole account in one message, so SSI messages are
    keyed by account (`ssi|account|*`) and every SSI order stays in one partition.
    """
    if envelope.venue == "ssi":
        return "*"
    events = normalizer_for(envelope.venue).normalize(envelope)
    return events[0].venue_symbol if events else "-"


def disordered(
    envelopes: list[tuple[bytes, RawEnvelope]], seed: int = 7, duplicate_share: float = 0.3
) -> list[tuple[bytes, RawEnvelope]]:
    """The same envelopes, some delivered twice, in a shuffled order."""
    rng = random.Random(seed)
    out = list(envelopes)
    out += [item for item in envelopes if rng.random() < duplicate_share]
    rng.shuffle(out)
    return out


POISON: list[tuple[bytes, bytes, str]] = [
    (b"upbit|desk-1|x", b"{not json", "bad_envelope"),
    (
        b"kraken|desk-1|x",
        orjson.dumps(
            {"venue": "kraken", "account": "a", "channel": "c", "received_at": 1, "payload": {}}
        ),
        "unknown_venue",
    ),
    (
        b"binance|desk-1|BTCUSDT",
        orjson.dumps(
            {
                "venue": "binance",
                "account": "desk-1",
                "channel": "userData",
                "received_at": 1,
                "payload": {"e": "executionReport", "s": "BTCUSDT", "E": "yesterday"},
            }
        ),
        "bad_payload",
    ),
    (b"upbit|desk-1|KRW-BTC", orjson.dumps({"venue": "upbit", "payload": {}}), "bad_envelope"),
]
