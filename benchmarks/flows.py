"""Synthetic raw order flow for benchmarks: distinct orders with realistic lifecycles.

Upbit orders go wait -> trade -> trade -> done (WebSocket myOrder, DEFAULT format, JSON
doubles); Binance orders go NEW -> TRADE -> TRADE (filled) (user-data executionReport in the
WebSocket API wrapper). Each order's events are keyed to one symbol, like an ingestor's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pipeline.envelope import RawEnvelope, envelope_key

T0 = 1_760_000_000_000


def _upbit(i: int, account: str, rng: random.Random) -> Iterator[tuple[bytes, RawEnvelope]]:
    uuid = f"{i:08x}-0000-4000-8000-{i:012x}"
    market = rng.choice(["KRW-BTC", "KRW-ETH", "KRW-XRP"])
    side = rng.choice(["BID", "ASK"])
    price, volume = 100_000.0 + rng.randint(0, 500) * 10, 0.02
    t = T0 + i * 10
    base = {
        "type": "myOrder", "code": market, "uuid": uuid, "ask_bid": side, "order_type": "limit",
        "trade_uuid": None, "price": price, "avg_price": 0.0, "volume": volume,
        "remaining_volume": volume, "executed_volume": 0.0, "trades_count": 0,
        "reserved_fee": 1.0, "remaining_fee": 1.0, "paid_fee": 0.0, "locked": price * volume,
        "executed_funds": 0.0, "time_in_force": None, "trade_fee": None, "is_maker": None,
        "identifier": None, "smp_type": None, "prevented_volume": 0.0, "prevented_locked": 0.0,
        "trade_timestamp": None, "order_timestamp": t, "timestamp": t, "state": "wait",
        "stream_type": "REALTIME",
    }  # fmt: skip
    key = envelope_key("upbit", account, market)
    yield key, RawEnvelope("upbit", account, "myOrder", t + 3, dict(base))
    executed = 0.0
    for n in (1, 2):
        executed = round(executed + volume / 2, 8)
        frame = dict(base)
        frame.update(
            state="trade", trade_uuid=f"{uuid}-t{n}", volume=volume / 2, price=price,
            avg_price=price, remaining_volume=round(volume - executed, 8),
            executed_volume=executed, trades_count=n, paid_fee=0.5 * n, trade_fee=0.5,
            is_maker=True, executed_funds=price * executed, trade_timestamp=t + n,
            timestamp=t + n,
        )  # fmt: skip
        yield key, RawEnvelope("upbit", account, "myOrder", t + n + 3, frame)
    done = dict(base)
    done.update(
        state="done", avg_price=price, remaining_volume=0.0, executed_volume=volume,
        trades_count=2, paid_fee=1.0, executed_funds=price * volume, timestamp=t + 3,
    )  # fmt: skip
    yield key, RawEnvelope("upbit", account, "myOrder", t + 6, done)


def _binance(i: int, account: str, rng: random.Random) -> Iterator[tuple[bytes, RawEnvelope]]:
    symbol = rng.choice(["BTCUSDT", "ETHUSDT", "ETHUSDC"])
    t = T0 + i * 10
    base = {
        "e": "executionReport", "E": t, "s": symbol, "c": f"cli-{i}",
        "S": rng.choice(["BUY", "SELL"]), "o": "LIMIT", "f": "GTC", "q": "0.02000000",
        "p": "1500.00000000", "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "",
        "x": "NEW", "X": "NEW", "r": "NONE", "i": 10_000_000 + i, "l": "0.00000000",
        "z": "0.00000000", "L": "0.00000000", "n": "0", "N": None, "T": t, "t": -1,
        "I": 3 * i, "w": True, "m": False, "M": False, "O": t, "Z": "0.00000000",
        "Y": "0.00000000", "Q": "0.00000000", "W": t, "V": "EXPIRE_MAKER",
    }  # fmt: skip
    key = envelope_key("binance", account, symbol)
    yield (
        key,
        RawEnvelope(
            "binance", account, "userData", t + 3, {"subscriptionId": 0, "event": dict(base)}
        ),
    )
    for n, (cum, status) in enumerate(
        (("0.01000000", "PARTIALLY_FILLED"), ("0.02000000", "FILLED")), 1
    ):
        trade = dict(base)
        trade.update(
            E=t + n, x="TRADE", X=status, l="0.01000000", z=cum, L="1500.00000000",
            n="0.00001000", N="BNB", T=t + n, t=100_000_000 + 2 * i + n, I=3 * i + n,
            m=True, Z=str(1500 * float(cum)), Y="15.00000000",
        )  # fmt: skip
        yield (
            key,
            RawEnvelope(
                "binance", account, "userData", t + n + 3, {"subscriptionId": 0, "event": trade}
            ),
        )


def synthetic_flow(
    orders: int, accounts: int = 20, seed: int = 1
) -> list[tuple[bytes, RawEnvelope]]:
    """Raw envelopes of `orders` distinct orders (half Upbit, half Binance), in event order."""
    rng = random.Random(seed)
    out: list[tuple[bytes, RawEnvelope]] = []
    for i in range(orders):
        account = f"bench-{i % accounts}"
        out += (_upbit if i % 2 == 0 else _binance)(i, account, rng)
    return out
