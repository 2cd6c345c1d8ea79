"""The venue kits: instruments, engine rules, id styles and flow profiles per venue.

A kit is what differs between venues *besides* the wire protocol (which lives in the
venue's `VenueServer`). Tick and lot sizes are chosen so that every quantity, price, fee and
cumulative amount fits the venue's encoding exactly (Binance: 8 decimals; Upbit: JSON doubles,
at most 15 significant digits), which keeps ground truth comparable to the unit.

`VENUE_KITS` is the registry the `Simulator` builds from. Coinone quotes decimal strings;
SSI trades fee-free in the simulator (its stream reports no fees) with HOSE tick sizes and
100-share lots; the futures gateway's instruments are linear perpetuals (`BTC/USDT:USDT`).
"""

from __future__ import annotations

import random
from decimal import Decimal

from pipeline.sim.binance import BinanceServer
from pipeline.sim.coinone import CoinoneServer
from pipeline.sim.engine import (
    ClientIdReuse,
    IdStyle,
    Instrument,
    PostOnlyPolicy,
    StpMode,
    VenueRules,
)
from pipeline.sim.flow import FlowProfile
from pipeline.sim.futures_gateway import FuturesGatewayServer
from pipeline.sim.futures_gateway_wire import PerpetualInstrument
from pipeline.sim.ssi import SsiCredential, SsiServer
from pipeline.sim.upbit import UpbitServer
from pipeline.sim.venue import Credential, VenueKit, random_credential
from pipeline.venues.registry import VENUES
from pipeline.venues.ssi import auth as ssi_auth

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


def _coinone(base: str, tick: str, lot: str) -> Instrument:
    return Instrument(
        "coinone", f"{base}-KRW", base, "KRW", D(tick), D(lot),
        maker_fee_rate=D("0.002"), taker_fee_rate=D("0.002"),
    )  # fmt: skip


def _ssi(code: str, tick: str, lot: str) -> Instrument:
    zero = D(0)
    return Instrument("ssi", code, code, "VND", D(tick), D(lot), zero, zero)


def _ssi_credential(account: str, rng: random.Random) -> Credential:
    """consumerID / consumerSecret from `rng`; the RSA key is fresh (not reproducible)."""
    plain = random_credential(account, rng, key_len=32)
    return SsiCredential(account, plain.key, plain.secret, ssi_auth.private_key_pem())


def _perpetual(base: str, tick: str, lot: str) -> Instrument:
    return PerpetualInstrument(
        "futures_gateway", f"{base}USDT", base, "USDT", D(tick), D(lot),
        maker_fee_rate=D("0.0002"), taker_fee_rate=D("0.0005"),
    )  # fmt: skip


COINONE_KIT = VenueKit(
    venue="coinone",
    instruments=(
        _coinone("BTC", "1000", "0.0001"),
        _coinone("ETH", "1000", "0.001"),
        _coinone("XRP", "1", "0.1"),
    ),
    reference_prices={"BTC-KRW": D(140_000_000), "ETH-KRW": D(5_000_000), "XRP-KRW": D(3000)},
    rules=VenueRules(
        stp_modes=frozenset(),  # no self-trade prevention in v2.1
        post_only=PostOnlyPolicy.CANCEL,  # accepted, then canceled (`cancel_post_only`)
        client_id_reuse=ClientIdReuse.NEVER,  # user_order_id
        generate_client_ids=False,
    ),
    id_style=IdStyle.UUID,
    flow=FlowProfile(
        ioc=False, fok=False, conditional_market=False, quote_market_buys=True
    ),  # STOP_LIMIT only; market buys by amount
    server=CoinoneServer,
)

SSI_KIT = VenueKit(
    venue="ssi",
    instruments=(
        _ssi("HPG", "50", "100"),
        _ssi("VNM", "100", "100"),
        _ssi("VN30F2412", "0.1", "1"),
    ),
    reference_prices={"HPG": D(27_000), "VNM": D(65_000), "VN30F2412": D("1285.0")},
    rules=VenueRules(
        stp_modes=frozenset(),
        client_id_reuse=ClientIdReuse.NEVER,  # requestID: unique per day
        generate_client_ids=False,
        cancel_delay_ms=20,  # CancelOrder is acknowledged; CL follows on the stream
    ),
    id_style=IdStyle.NUMERIC,
    flow=FlowProfile(
        ioc=False, fok=False, post_only=False, conditional_market=False, deferred_cancel=True
    ),  # LO, MP and stop LO orders
    server=SsiServer,
    credentials=_ssi_credential,
)

FUTURES_GATEWAY_KIT = VenueKit(
    venue="futures_gateway",
    instruments=(
        _perpetual("BTC", "0.1", "0.001"),
        _perpetual("ETH", "0.01", "0.01"),
        _perpetual("SOL", "0.01", "0.1"),
    ),
    reference_prices={"BTCUSDT": D("60000.0"), "ETHUSDT": D("3000.00"), "SOLUSDT": D("150.00")},
    rules=VenueRules(
        stp_modes=frozenset(),
        post_only=PostOnlyPolicy.REJECT,  # GTX
        reject_stop_triggering_now=True,
        generate_client_ids=False,
        cancel_delay_ms=50,  # CANCELLATION_RAISED, then CANCELLED
    ),
    id_style=IdStyle.UUID,
    flow=FlowProfile(conditional_limit=False, deferred_cancel=True),  # TP/SL are market orders
    server=FuturesGatewayServer,
)

_KITS: dict[str, VenueKit] = {
    kit.venue: kit for kit in (UPBIT_KIT, BINANCE_KIT, COINONE_KIT, SSI_KIT, FUTURES_GATEWAY_KIT)
}
if set(_KITS) - set(VENUES):  # a simulated venue is a venue of the registry
    raise RuntimeError(f"kits for venues the registry does not know: {set(_KITS) - set(VENUES)}")
VENUE_KITS: dict[str, VenueKit] = {venue: _KITS[venue] for venue in VENUES if venue in _KITS}
"""The simulated venues, keyed and ordered by the venue registry (`pipeline.venues.registry`)."""
