"""The venue kits: instruments, engine rules, id styles and flow profiles per venue.

A kit is what differs between venues *besides* the wire protocol (which lives in the
venue's `VenueServer`). Tick and lot sizes are chosen so that every quantity, price, fee and
cumulative amount fits the venue's encoding exactly (Binance: 8 decimals; Upbit: JSON doubles,
at most 15 significant digits), which keeps ground truth comparable to the unit.

`VENUE_KITS` is the registry the `Simulator` builds from; the next venues (coinone, ssi,
futures_gateway) add their kit here.
"""

from __future__ import annotations

import random
from decimal import Decimal

from pipeline.sim.binance import BinanceServer
from pipeline.sim.engine import (
    ClientIdReuse,
    IdStyle,
    Instrument,
    PostOnlyPolicy,
    StpMode,
    VenueRules,
)
from pipeline.sim.flow import FlowProfile
from pipeline.sim.upbit import UpbitServer
from pipeline.sim.venue import Credential, VenueKit, random_credential

D = Decimal


def _upbit(quote: str, base: str, tick: str, lot: str) -> Instrument:
    return Instrument("upbit", f"{quote}-{base}", base, quote, D(tick), D(lot))


def _binance(base: str, quote: str, tick: str, lot: str) -> Instrument:
    return Instrument(
        "binance", f"{base}{quote}", base, quote, D(tick), D(lot),
        maker_fee_rate=D("0.001"), taker_fee_rate=D("0.001"), fee_in_base_on_buy=True,
    )  # fmt: skip


def _binance_credential(account: str, rng: random.Random) -> Credential:
    return random_credential(account, rng, key_len=64)


UPBIT_KIT = VenueKit(
    venue="upbit",
    instruments=(
        _upbit("KRW", "BTC", "1000", "0.0001"),
        _upbit("KRW", "ETH", "1000", "0.001"),
        _upbit("KRW", "XRP", "1", "0.1"),
    ),
    reference_prices={"KRW-BTC": D(140_000_000), "KRW-ETH": D(5_000_000), "KRW-XRP": D(3000)},
    rules=VenueRules(
        stp_modes=frozenset({StpMode.CANCEL_MAKER, StpMode.CANCEL_TAKER, StpMode.DECREMENT}),
        post_only=PostOnlyPolicy.REJECT,  # [V] Upbit may instead accept and cancel
        client_id_reuse=ClientIdReuse.NEVER,
        generate_client_ids=False,
        cancel_delay_ms=20,  # DELETE /v1/order only registers the cancel
    ),
    id_style=IdStyle.UUID,
    flow=FlowProfile(
        stp_modes=(StpMode.NONE, StpMode.CANCEL_MAKER, StpMode.CANCEL_TAKER, StpMode.DECREMENT),
        conditional_market=False,  # watch orders are limit orders
        quote_market_buys=True,  # ord_type=price
        deferred_cancel=True,
    ),
    server=UpbitServer,
)

BINANCE_KIT = VenueKit(
    venue="binance",
    instruments=(
        _binance("BTC", "USDT", "0.01", "0.00001"),
        _binance("ETH", "USDT", "0.01", "0.0001"),
        _binance("BNB", "USDT", "0.01", "0.001"),
    ),
    reference_prices={"BTCUSDT": D("60000.00"), "ETHUSDT": D("3000.00"), "BNBUSDT": D("600.00")},
    rules=VenueRules(
        post_only=PostOnlyPolicy.REJECT,  # LIMIT_MAKER: -2010
        reject_stop_triggering_now=True,  # -2010 "Order would trigger immediately."
        amend_keep_priority=True,
        client_id_reuse=ClientIdReuse.WHILE_OPEN,
        generate_client_ids=True,
    ),
    id_style=IdStyle.NUMERIC,
    flow=FlowProfile(stp_modes=tuple(StpMode), amend=True, quote_market_buys=True),
    server=BinanceServer,
    credentials=_binance_credential,
)

VENUE_KITS: dict[str, VenueKit] = {kit.venue: kit for kit in (UPBIT_KIT, BINANCE_KIT)}
