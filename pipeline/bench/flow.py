"""Seeded raw order flow for `pipeline bench`: all five venues, in their real wire formats.

Each order gets a complete lifecycle on its venue's streaming (or polled) channel, exactly as
an ingestor publishes it (DESIGN §3: raw envelope, key `venue|account|symbol`):

| venue | channel | messages of one order |
| --- | --- | --- |
| upbit | `myOrder` (WebSocket, DEFAULT, JSON doubles) | `wait`, `trade` x k, `done` or `cancel` |
| binance | `userData` (`executionReport` in the WS API wrapper) | `NEW`, `TRADE` x k, `CANCELED` |
| coinone | `MYORDER` (short keys, decimal strings) | `wait`, `trade` x k (`trade_done`), `cancel` |
| ssi | `stream`, keyed `ssi|account|*` | `QU`, `orderMatchEvent` + `PF`/`FF` per trade, `CL` |
| futures_gateway | `rest.trades`, `rest.order_status` | `NEW`, each trade, the final status |

Lifecycles: filled in 1-3 trades, partially filled then canceled (a partial cancel), canceled
unfilled, or left open with part filled. Then 5% of the messages are delivered twice and 5%
are moved a few places later (reordered), seeded, so a run is reproducible.

The generator also keeps the *expected result*, computed from the lifecycles it wrote and not
from the pipeline's code: every order's final status and filled quantity, every fill, and
every position's signed quantity and fill count. `pipeline bench` checks the tables against it
(a fast wrong answer is a failure).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from pipeline.envelope import RawEnvelope, envelope_key
from pipeline.venues.registry import VENUES

T0 = 1_767_000_000_000  # event time of the first order (ms)
STEP_MS = 7  # event time between two orders' starts

# venue -> (venue symbol, unified symbol, price as text, lot as text)
_SYMBOLS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "upbit": (
        ("KRW-BTC", "BTC/KRW", "95000000", "0.0001"),
        ("KRW-ETH", "ETH/KRW", "4500000", "0.001"),
        ("KRW-XRP", "XRP/KRW", "850", "1"),
    ),
    "binance": (
        ("BTCUSDT", "BTC/USDT", "64000.00000000", "0.00010000"),
        ("ETHUSDT", "ETH/USDT", "3100.50000000", "0.00100000"),
        ("ETHUSDC", "ETH/USDC", "3101.25000000", "0.00100000"),
    ),
    "coinone": (
        ("BTC", "BTC/KRW", "95000000", "0.0001"),
        ("ETH", "ETH/KRW", "4500000", "0.001"),
    ),
    "ssi": (
        ("VN30F2412", "VN30F2412/VND", "1285.5", "1"),
        ("HPG", "HPG/VND", "27.5", "100"),
    ),
    "futures_gateway": (
        ("BTCUSDT", "BTC/USDT:USDT", "64000.0", "0.001"),
        ("ETHUSDT", "ETH/USDT:USDT", "3100.5", "0.01"),
    ),
}
_FG_ACCOUNTS = ("EXCHANGE_1", "EXCHANGE_2", "EXCHANGE_3")


@dataclass(frozen=True, slots=True)
class ExpectedOrder:
    status: str
    filled_qty: Decimal


@dataclass
class Expected:
    """What the tables must hold after the flow, from the generator's own bookkeeping."""

    orders: dict[tuple[str, str, str], ExpectedOrder] = field(default_factory=dict)
    fills: set[tuple[str, str, str]] = field(default_factory=set)  # (venue, account, order_id)
    fill_count: int = 0
    # (venue, account, unified symbol) -> (signed qty, fill count)
    positions: dict[tuple[str, str, str], tuple[Decimal, int]] = field(default_factory=dict)

    def fill(self, venue: str, account: str, symbol: str, order_id: str, signed: Decimal) -> None:
        self.fill_count += 1
        self.fills.add((venue, account, order_id))
        key = (venue, account, symbol)
        qty, count = self.positions.get(key, (Decimal(0), 0))
        self.positions[key] = (qty + signed, count + 1)


@dataclass
class BenchFlow:
    """Raw records in delivery order (topic, key, value) and the expected result."""

    records: list[tuple[str, bytes, bytes]]
    expected: Expected
    orders: int
    duplicates: int
    reordered: int


@dataclass(slots=True)
class _Order:
    """One generated order's plan: its trades and how it ends."""

    venue: str
    account: str
    venue_symbol: str
    symbol: str
    order_id: str
    buy: bool
    price: Decimal
    qty: Decimal
    trades: list[Decimal]  # quantities, in order
    end: str  # "filled", "canceled" (possibly after trades), "open"
    t: int  # event time of the placement

    @property
    def filled(self) -> Decimal:
        return sum(self.trades, Decimal(0))


Emit = Callable[[str, str, str, int, dict], None]  # (venue, account, channel, received, payload)


def _plan(i: int, rng: random.Random, accounts: int, t0: int, step_ms: float) -> _Order:
    venue = VENUES[i % len(VENUES)]
    venue_symbol, symbol, price, lot = rng.choice(_SYMBOLS[venue])
    if venue == "futures_gateway":
        account = _FG_ACCOUNTS[(i // len(VENUES)) % len(_FG_ACCOUNTS)]
    elif venue == "ssi":
        account = f"09{(i // len(VENUES)) % accounts:05d}"
    else:
        account = f"bench-{(i // len(VENUES)) % accounts}"
    lots = rng.choice((2, 4, 6, 10))
    qty = Decimal(lot) * lots
    roll = rng.random()
    if roll < 0.6:
        end, k = "filled", min(lots, rng.choice((1, 2, 2, 3)))
    elif roll < 0.75:
        end, k = "canceled", 1  # a partial cancel
    elif roll < 0.9:
        end, k = "canceled", 0
    else:
        end, k = "open", rng.choice((0, 1))
    if end == "filled":
        cuts = sorted(rng.sample(range(1, lots), k - 1)) if k > 1 else []
        bounds = [0, *cuts, lots]
        trades = [Decimal(lot) * (bounds[n + 1] - bounds[n]) for n in range(k)]
    else:
        trades = [Decimal(lot) * (lots // 2)] * k
    order_id = {
        "upbit": f"{i:08x}-0000-4000-8000-{i:012x}",
        "binance": str(10_000_000 + i),
        "coinone": f"{i:08x}-1e4d-11e9-9ec7-{i:012x}",
        "ssi": str(20_000_000 + i),
        "futures_gateway": f"01936be4-{i % 65536:04x}-7a3f-97fa-{i:012x}",
    }[venue]
    return _Order(venue, account, venue_symbol, symbol, order_id, rng.random() < 0.5,
                  Decimal(price), qty, trades, end, t0 + int(i * step_ms))  # fmt: skip


def _f(value: Decimal) -> float:
    """A JSON double for Upbit's WebSocket (the lots above are exact in binary's repr)."""
    return float(value)


def _upbit(o: _Order, emit: Emit) -> None:
    base = {
        "type": "myOrder", "code": o.venue_symbol, "uuid": o.order_id,
        "ask_bid": "BID" if o.buy else "ASK", "order_type": "limit", "trade_uuid": None,
        "price": _f(o.price), "avg_price": 0.0, "volume": _f(o.qty),
        "remaining_volume": _f(o.qty), "executed_volume": 0.0, "trades_count": 0,
        "reserved_fee": 0.0, "remaining_fee": 0.0, "paid_fee": 0.0,
        "locked": _f(o.price * o.qty), "executed_funds": 0.0, "time_in_force": None,
        "trade_fee": None, "is_maker": None, "identifier": None, "smp_type": None,
        "prevented_volume": 0.0, "prevented_locked": 0.0, "trade_timestamp": None,
        "order_timestamp": o.t, "timestamp": o.t, "state": "wait", "stream_type": "REALTIME",
    }  # fmt: skip
    emit(o.venue, o.account, "myOrder", o.t + 3, dict(base))
    done = Decimal(0)
    t = o.t
    for n, qty in enumerate(o.trades, 1):
        done += qty
        t = o.t + n
        frame = dict(base)
        frame.update(
            state="trade", trade_uuid=f"{o.order_id}-t{n}", volume=_f(qty), avg_price=_f(o.price),
            remaining_volume=_f(o.qty - done), executed_volume=_f(done), trades_count=n,
            paid_fee=0.0, trade_fee=0.0, is_maker=True, executed_funds=_f(o.price * done),
            trade_timestamp=t, timestamp=t,
        )  # fmt: skip
        emit(o.venue, o.account, "myOrder", t + 3, frame)
    if o.end == "open":
        return
    last = dict(base)
    last.update(
        state="done" if o.end == "filled" else "cancel",
        avg_price=_f(o.price) if done else 0.0, remaining_volume=_f(o.qty - done),
        executed_volume=_f(done), trades_count=len(o.trades),
        executed_funds=_f(o.price * done), timestamp=t + 2,
    )  # fmt: skip
    emit(o.venue, o.account, "myOrder", t + 5, last)


def _d8(value: Decimal) -> str:
    return f"{value:.8f}"


def _binance(o: _Order, emit: Emit) -> None:
    base = {
        "e": "executionReport", "E": o.t, "s": o.venue_symbol, "c": f"cli-{o.order_id}",
        "S": "BUY" if o.buy else "SELL", "o": "LIMIT", "f": "GTC", "q": _d8(o.qty),
        "p": _d8(o.price), "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "",
        "x": "NEW", "X": "NEW", "r": "NONE", "i": int(o.order_id), "l": "0.00000000",
        "z": "0.00000000", "L": "0.00000000", "n": "0", "N": None, "T": o.t, "t": -1,
        "I": 1, "w": True, "m": False, "M": False, "O": o.t, "Z": "0.00000000",
        "Y": "0.00000000", "Q": "0.00000000", "W": o.t, "V": "EXPIRE_MAKER",
    }  # fmt: skip
    emit(o.venue, o.account, "userData", o.t + 3, {"subscriptionId": 0, "event": dict(base)})
    done = Decimal(0)
    t = o.t
    for n, qty in enumerate(o.trades, 1):
        done += qty
        t = o.t + n
        status = "FILLED" if done == o.qty else "PARTIALLY_FILLED"
        trade = dict(base)
        trade.update(
            E=t, x="TRADE", X=status, l=_d8(qty), z=_d8(done), L=_d8(o.price), n="0.00000000",
            N="BNB", T=t, t=100_000_000 + 4 * int(o.order_id) + n, I=1 + n, m=True,
            Z=_d8(o.price * done), Y=_d8(o.price * qty),
        )  # fmt: skip
        emit(o.venue, o.account, "userData", t + 3, {"subscriptionId": 0, "event": trade})
    if o.end != "canceled":
        return
    cancel = dict(base)
    cancel.update(
        E=t + 2, x="CANCELED", X="CANCELED", z=_d8(done), T=t + 2, I=9,
        Z=_d8(o.price * done),
    )  # fmt: skip
    emit(o.venue, o.account, "userData", t + 5, {"subscriptionId": 0, "event": cancel})


def _s(value: Decimal) -> str:
    return "0" if not value else f"{value.normalize():f}"


def _coinone(o: _Order, emit: Emit) -> None:
    base = {
        "qc": "KRW", "tc": o.venue_symbol, "oi": o.order_id, "t": "LIMIT", "st": "wait",
        "s": "BID" if o.buy else "ASK", "op": _s(o.price), "oq": _s(o.qty), "oa": None,
        "ti": None, "im": None, "ep": None, "eq": None, "ef": None, "rq": _s(o.qty),
        "ra": None, "ui": f"bot-{o.order_id[:8]}", "et": None, "ot": o.t, "ts": o.t,
    }  # fmt: skip

    def frame(**changes: object) -> dict:
        return {"r": "DATA", "c": "MYORDER", "d": {**base, **changes}}

    emit(o.venue, o.account, "MYORDER", o.t + 3, frame())
    done = Decimal(0)
    t = o.t
    for n, qty in enumerate(o.trades, 1):
        done += qty
        t = o.t + n
        state = "trade_done" if done == o.qty else "trade"
        emit(o.venue, o.account, "MYORDER", t + 3, frame(
            st=state, ti=f"{o.order_id[:8]}-{n:04d}-11e9-9ec7-00e04c3600d1", im="true",
            ep=_s(o.price), eq=_s(qty), ef="0", rq=_s(o.qty - done), et=t, ts=t + 1,
        ))  # fmt: skip
    if o.end != "canceled":
        return
    emit(o.venue, o.account, "MYORDER", t + 5, frame(
        st="cancel", eq=_s(o.qty - done), rq="0", et=t + 2, ts=t + 2,
    ))  # fmt: skip


def _ssi(o: _Order, emit: Emit, notify: list[int]) -> None:
    base = {
        "orderID": o.order_id, "notifyID": 0, "instrumentID": o.venue_symbol,
        "uniqueID": str(int(o.order_id) + 7), "buySell": "B" if o.buy else "S",
        "orderType": "LO", "ipAddress": "192.168.202.36", "price": float(o.price),
        "prefix": "2mw", "quantity": int(o.qty), "marketID": "VNFE", "origOrderId": "",
        "account": o.account, "cancelQty": 0, "osQty": int(o.qty), "filledQty": 0,
        "avgPrice": 0, "channel": "TA", "inputTime": str(o.t), "modifiedTime": str(o.t),
        "isForceSell": "F", "isShortSell": "F", "orderStatus": "QU", "rejectReason": "",
        "origRequestID": str(int(o.order_id) + 7), "stopOrder": False, "stopPrice": 0,
        "stopType": "", "stopStep": 0, "profitPrice": 0,
    }  # fmt: skip

    def event(**changes: object) -> dict:
        notify[0] += 1
        return {"type": "orderEvent", "data": {**base, "notifyID": notify[0], **changes}}

    emit(o.venue, o.account, "stream", o.t + 3, event())
    done = Decimal(0)
    t = o.t
    for qty in o.trades:
        done += qty
        t += 1
        notify[0] += 1
        match = {
            "orderID": o.order_id, "notifyID": notify[0], "instrumentID": o.venue_symbol,
            "uniqueID": base["uniqueID"], "buySell": base["buySell"],
            "matchPrice": float(o.price), "ipAddress": "10.48.41.16", "matchQty": int(qty),
            "prefix": "t4c", "account": o.account, "matchTime": str(t),
        }  # fmt: skip
        emit(o.venue, o.account, "stream", t + 3, {"type": "orderMatchEvent", "data": match})
        emit(o.venue, o.account, "stream", t + 4, event(
            orderStatus="FF" if done == o.qty else "PF", osQty=int(o.qty - done),
            filledQty=int(done), avgPrice=float(o.price), modifiedTime=str(t),
        ))  # fmt: skip
    if o.end != "canceled":
        return
    emit(o.venue, o.account, "stream", t + 5, event(
        orderStatus="CL", osQty=0, filledQty=int(done), cancelQty=int(o.qty - done),
        avgPrice=float(o.price) if done else 0, modifiedTime=str(t + 2),
    ))  # fmt: skip


def _futures_gateway(o: _Order, emit: Emit) -> None:
    base = {
        "order_id": o.order_id, "client_order_id": f"grid-{o.order_id[-6:]}",
        "exchange": o.account, "symbol": o.venue_symbol, "side": "BUY" if o.buy else "SELL",
        "type": "LIMIT", "status": "NEW", "time_in_force": "GTC", "quantity": _s(o.qty),
        "executed_quantity": "0", "price": str(o.price), "average_price": None,
        "stop_price": None, "reduce_only": False, "fee": "0", "fee_asset": "USDT",
        "created_at": o.t, "updated_at": o.t,
    }  # fmt: skip
    emit(o.venue, o.account, "rest.order_status", o.t + 3, {"data": dict(base)})
    done = Decimal(0)
    t = o.t
    for n, qty in enumerate(o.trades, 1):
        done += qty
        t = o.t + n
        trade = {
            "trade_id": f"{o.order_id[:24]}{n:012x}", "order_id": o.order_id,
            "client_order_id": base["client_order_id"], "symbol": o.venue_symbol,
            "side": base["side"], "price": str(o.price), "quantity": _s(qty), "fee": "0",
            "fee_asset": "USDT", "is_maker": True, "time": t,
        }  # fmt: skip
        emit(o.venue, o.account, "rest.trades", t + 3, {"data": {"trades": [trade]}})
    if not o.trades and o.end != "canceled":
        return
    status = {"filled": "FILLED", "canceled": "CANCELLED", "open": "PARTIALLY_FILLED"}[o.end]
    final = dict(base)
    final.update(
        status=status, executed_quantity=_s(done), updated_at=t + 2,
        average_price=str(o.price) if done else None,
    )  # fmt: skip
    emit(o.venue, o.account, "rest.order_status", t + 5, {"data": final})


def _expect(o: _Order, expected: Expected) -> None:
    if o.end == "filled":
        status = "filled"
    elif o.end == "canceled":
        status = "canceled"
    else:
        status = "partially_filled" if o.trades else "open"
    expected.orders[(o.venue, o.account, o.order_id)] = ExpectedOrder(status, o.filled)
    for qty in o.trades:
        expected.fill(o.venue, o.account, o.symbol, o.order_id, qty if o.buy else -qty)


def generate(
    events: int, seed: int = 1, accounts: int = 40, t0: int = T0, step_ms: float = STEP_MS
) -> BenchFlow:
    """About `events` raw envelopes (whole orders: it stops at the first order past it).

    Order i starts at event time `t0 + i * step_ms` (ms); its messages follow within ~10 ms.
    """
    rng = random.Random(seed)
    expected = Expected()
    out: list[tuple[str, bytes, bytes]] = []
    notify = [0]

    def emit(venue: str, account: str, channel: str, received: int, payload: dict) -> None:
        # SSI's stream covers the whole account (tests/scenario_data.py)
        symbol = "*" if venue == "ssi" else current.venue_symbol
        key = envelope_key(venue, account, symbol)
        out.append((f"raw.{venue}", key, RawEnvelope(venue, account, channel, received,
                                                      payload).encode()))  # fmt: skip

    i = 0
    while len(out) * 1.05 < events:  # duplicates add ~5%
        current = _plan(i, rng, accounts, t0, step_ms)
        if current.venue == "upbit":
            _upbit(current, emit)
        elif current.venue == "binance":
            _binance(current, emit)
        elif current.venue == "coinone":
            _coinone(current, emit)
        elif current.venue == "ssi":
            _ssi(current, emit, notify)
        else:
            _futures_gateway(current, emit)
        _expect(current, expected)
        i += 1
    delivered, duplicates, reordered = _disorder(out, rng)
    return BenchFlow(delivered, expected, i, duplicates, reordered)


def _disorder(
    records: list[tuple[str, bytes, bytes]], rng: random.Random, share: float = 0.05
) -> tuple[list[tuple[str, bytes, bytes]], int, int]:
    """5% delivered twice (the copy a little later), 5% moved up to 40 places later."""
    result: list[tuple[str, bytes, bytes]] = []
    pending: list[tuple[int, tuple[str, bytes, bytes]]] = []  # (release at, record)
    duplicates = reordered = 0
    for index, record in enumerate(records):
        roll = rng.random()
        if roll < share:  # moved later
            pending.append((index + rng.randint(2, 40), record))
            reordered += 1
        else:
            result.append(record)
            if roll < 2 * share:
                pending.append((index + rng.randint(1, 40), record))
                duplicates += 1
        due = [item for item in pending if item[0] <= index]
        if due:
            pending = [item for item in pending if item[0] > index]
            result.extend(record for _at, record in due)
    result.extend(record for _at, record in pending)
    return result, duplicates, reordered
