"""Every analyst view's figures against the same figures computed in Python from the base
rows (fills, orders, dead letters) of a store populated through replay (issue 16 item 1).

The Python side is written independently of the SQL: plain loops over the rows and an
average-cost fold of its own. Sums of decimals are exact on both sides and compared exactly;
realized PnL divides (average prices), and the SQL keeps 18 places at each step, so it is
compared to 1e-9.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pipeline.sink.store import Store

PNL_TOLERANCE = Decimal("1e-9")
Q18 = Decimal("1e-18")


def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    result = store.query(sql.replace("trading.", f"{store.database}."))
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _fills(store: Store) -> list[dict[str, Any]]:
    return _rows(store, "SELECT * FROM trading.fills FINAL WHERE qty > 0")


def _quote(symbol: str) -> str:
    return symbol.split("/")[1].split(":")[0]


def _realized_per_fill(fills: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Decimal]]:
    """Average-cost positions, signed (a sell opens a short), fill by fill in trade-time order:
    each fill with the PnL it realized."""
    out = []
    by_position: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for fill in fills:
        by_position[(fill["venue"], fill["account"], fill["symbol"])].append(fill)
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        for group in by_position.values():
            qty, avg = Decimal(0), Decimal(0)
            for fill in sorted(
                group, key=lambda f: (f["trade_time"], f["trade_id"], f["order_id"])
            ):
                signed = fill["qty"] if fill["side"] == "buy" else -fill["qty"]
                price, size = fill["price"], fill["qty"]
                realized = Decimal(0)
                if qty == 0 or (qty > 0) == (signed > 0):
                    avg = (avg * abs(qty) + price * size) / abs(qty + signed)
                    qty += signed
                else:
                    direction = 1 if qty > 0 else -1
                    closed = min(size, abs(qty))
                    realized = (price - avg) * closed * direction
                    qty += signed
                    if qty == 0:
                        avg = Decimal(0)
                    elif (qty > 0) != (direction > 0):
                        avg = price  # through zero: the rest opens at this fill's price
                out.append((fill, realized))
    return out


def _day(fill: dict[str, Any]) -> date:
    moment: datetime = fill["trade_time"]
    return moment.date()


def test_daily_pnl_figures_equal_python_from_the_fills(populated: Store) -> None:
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for fill, realized in _realized_per_fill(_fills(populated)):
        key = (_day(fill), fill["venue"], fill["account"], fill["symbol"])
        quote = _quote(fill["symbol"])
        row = expected.setdefault(key, {"fills": 0, "traded_qty": Decimal(0), "bought_qty":
                                        Decimal(0), "sold_qty": Decimal(0), "traded_notional":
                                        Decimal(0), "realized_pnl": Decimal(0), "fees": {},
                                        "fees_in_quote": Decimal(0), "quote": quote})  # fmt: skip
        row["fills"] += 1
        row["traded_qty"] += fill["qty"]
        row["bought_qty" if fill["side"] == "buy" else "sold_qty"] += fill["qty"]
        row["traded_notional"] += fill["price"] * fill["qty"]
        row["realized_pnl"] += realized
        asset = fill["fee_asset"] or quote
        row["fees"][asset] = row["fees"].get(asset, Decimal(0)) + fill["fee"]
        if asset == quote:
            row["fees_in_quote"] += fill["fee"]
    got = {
        (r["day"], r["venue"], r["account"], r["symbol"]): r
        for r in _rows(populated, "SELECT * FROM trading.daily_pnl")
    }
    assert set(got) == set(expected)
    assert any(row["traded_notional"] > 100 for row in expected.values())  # 0004 overflowed
    assert any(row["realized_pnl"] != 0 for row in expected.values())
    for key, want in expected.items():
        row = got[key]
        assert row["quote"] == want["quote"], key
        assert row["fills"] == want["fills"], key
        for name in ("traded_qty", "bought_qty", "sold_qty", "fees_in_quote"):
            assert row[name] == want[name], (key, name)
        # the product of two 18-place decimals has 36 places; the view keeps 18 (truncated)
        assert row["traded_notional"] == want["traded_notional"].quantize(
            Q18, rounding=decimal.ROUND_DOWN
        ), key
        assert abs(row["realized_pnl"] - want["realized_pnl"]) < PNL_TOLERANCE, key
        assert abs(row["net_pnl"] - (want["realized_pnl"] - want["fees_in_quote"])) < (
            PNL_TOLERANCE
        ), key
        assert {a: f for a, f in row["fees"].items() if f} == {
            a: f for a, f in want["fees"].items() if f
        }, key
    for column in ("traded_notional", "realized_pnl", "net_pnl", "traded_qty"):
        kind = populated.query(
            f"SELECT toTypeName({column}) FROM {populated.database}.daily_pnl LIMIT 1"
        ).rows[0][0]
        assert kind == "Decimal(38, 18)", (column, kind)


def test_realized_pnl_daily_figures_equal_python_from_the_fills(populated: Store) -> None:
    expected: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    for fill, realized in _realized_per_fill(_fills(populated)):
        key = (_day(fill), fill["venue"], fill["account"], fill["symbol"])
        expected[key] += realized
        counts[key] += 1
    got = _rows(populated, "SELECT day, venue, account, symbol, fills, realized_pnl "
                "FROM trading.realized_pnl_daily")  # fmt: skip
    assert {(r["day"], r["venue"], r["account"], r["symbol"]) for r in got} == set(expected)
    for row in got:
        key = (row["day"], row["venue"], row["account"], row["symbol"])
        assert row["fills"] == counts[key], key
        assert abs(row["realized_pnl"] - expected[key]) < PNL_TOLERANCE, key


def test_fills_daily_figures_equal_python_from_the_fills(populated: Store) -> None:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for fill in _fills(populated):
        groups[(_day(fill), fill["venue"], fill["symbol"])].append(fill)
    got = {
        (r["day"], r["venue"], r["symbol"]): r
        for r in _rows(populated, "SELECT * FROM trading.fills_daily")
    }
    assert set(got) == set(groups)
    for key, fills in groups.items():
        row = got[key]
        assert row["fills"] == len(fills), key
        assert row["orders"] == len({(f["account"], f["order_id"]) for f in fills}), key
        assert row["traded_qty"] == sum(f["qty"] for f in fills), key
        assert row["bought_qty"] == sum(f["qty"] for f in fills if f["side"] == "buy"), key
        assert row["sold_qty"] == sum(f["qty"] for f in fills if f["side"] == "sell"), key
        notional = sum(f["price"] * f["qty"] for f in fills)
        assert row["traded_notional"] == notional.quantize(Q18, rounding=decimal.ROUND_DOWN), key
        makers = sum(1 for f in fills if f["liquidity"] == "maker")
        assert abs(row["maker_share"] - makers / len(fills)) < 1e-6, key
        assert row["first_trade_at"] == min(f["trade_time"] for f in fills), key
        assert row["last_trade_at"] == max(f["trade_time"] for f in fills), key


def test_open_orders_are_exactly_the_live_orders(populated: Store) -> None:
    live = {"open", "partially_filled", "pending_cancel", "untriggered"}
    orders = _rows(populated, "SELECT venue, account, order_id, status FROM trading.orders FINAL")
    want = {(o["venue"], o["account"], o["order_id"]) for o in orders if o["status"] in live}
    got = _rows(populated, "SELECT venue, account, order_id FROM trading.open_orders")
    assert want, "the scenario leaves some order open"
    assert sorted((r["venue"], r["account"], r["order_id"]) for r in got) == sorted(want)


def test_execution_quality_figures_equal_python_from_orders_and_fills(populated: Store) -> None:
    orders = _rows(populated, "SELECT * FROM trading.orders FINAL")
    first_fill: dict[tuple[str, str, str], datetime] = {}
    for fill in _fills(populated):
        key = (fill["venue"], fill["account"], fill["order_id"])
        first_fill[key] = min(first_fill.get(key, fill["trade_time"]), fill["trade_time"])
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for order in orders:
        groups[(order["venue"], order["symbol"])].append(order)
    got = {(r["venue"], r["symbol"]): r for r in _rows(populated,
           "SELECT * FROM trading.execution_quality")}  # fmt: skip
    assert set(got) == set(groups)
    for key, members in groups.items():
        row = got[key]
        n = len(members)
        filled = sum(1 for o in members if o["status"] == "filled")
        partial = sum(1 for o in members if o["filled_qty"] > 0 and o["status"] != "filled")
        canceled = sum(1 for o in members if o["status"] == "canceled")
        assert (row["orders"], row["filled"], row["partially_filled"], row["canceled"]) == (
            n, filled, partial, canceled), key  # fmt: skip
        assert row["rejected"] == sum(1 for o in members if o["status"] == "rejected"), key
        assert row["expired"] == sum(1 for o in members if o["status"] == "expired"), key
        assert abs(row["fill_rate"] - filled / n) < 1e-6, key
        assert abs(row["cancel_rate"] - canceled / n) < 1e-6, key
        latencies = [
            max((first_fill[k] - o["created_at"]).total_seconds(), 0)
            for o in members
            if (k := (o["venue"], o["account"], o["order_id"])) in first_fill
        ]
        assert row["orders_with_fills"] == len(latencies), key
        if latencies:
            assert abs(row["avg_fill_latency_seconds"] - sum(latencies) / len(latencies)) < 2e-3
        else:
            assert row["avg_fill_latency_seconds"] is None, key


def test_dead_letters_by_reason_figures_equal_python(populated: Store) -> None:
    letters = _rows(populated, "SELECT venue, reason, failed_at FROM trading.dead_letters FINAL")
    assert letters, "the replayed file holds poison records"
    want: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for letter in letters:
        want[(letter["venue"], letter["reason"])].append(letter["failed_at"])
    got = _rows(populated, "SELECT * FROM trading.dead_letters_by_reason")
    assert {(r["venue"], r["reason"]): (r["letters"], r["last_failed_at"]) for r in got} == {
        key: (len(times), max(times)) for key, times in want.items()
    }
