"""Ground truth: the true final state of every order, fill and position, and a comparison.

The simulator knows what really happened; the pipeline reconstructs it from venue payloads.
`GroundTruth.from_exchanges` exports the engine's state in canonical terms (statuses,
`BASE/QUOTE` symbols, cancel reasons, average-cost positions), as plain dicts of `Decimal`s,
and `compare` checks what the pipeline computed (`OrderState` / `Position` objects or their
codec dicts) against it: "orders 1832/1832 match".

Canonical, as the pipeline defines it (pipeline/domain/orders.py):
- a terminal order whose fills reach its quantity is `filled`; one that ended `filled` with
  less executed (self-trade decrement or a partial cancel removed the rest) is `canceled`;
- a live order with fills is `partially_filled`; a quote-sized order's `qty` is what it
  bought;
- venues that have no "expired" status spell a released remainder as a cancel (each
  venue's `mapping.STATES_EXPIRED`, via `pipeline.venues.registry.states_expired`), so
  there it is `canceled` with the same reason;
- positions fold each account's fills at average cost in the pipeline's canonical fill
  order `(trade_time, trade_id, order_id)`; realized PnL excludes fees, fees are per asset.

Average prices of venues that send JSON doubles (Upbit) can differ in the last binary digit,
so `compare` checks average prices to a relative tolerance; everything else exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.sim.engine import Exchange, Fill, Order, Side, Status
from pipeline.venues import registry

ZERO = Decimal(0)

OrderKey = tuple[str, str, str]  # (venue, account, order_id)
PositionKey = tuple[str, str, str]  # (venue, account, symbol)
FillKey = tuple[str, str, str, str]  # (venue, account, order_id, trade_id)

_EXACT_ORDER_FIELDS = (
    "status", "cancel_reason", "symbol", "side", "qty", "filled_qty", "remaining_qty",
    "canceled_qty", "fee", "client_order_id",
)  # fmt: skip
_EXACT_POSITION_FIELDS = ("qty", "fill_count")
_APPROX_POSITION_FIELDS = ("avg_price", "realized_pnl")


def canonical_status(order: Order) -> tuple[str, str | None]:
    """(status, cancel_reason) of `order` as the pipeline should conclude them."""
    status, filled, qty = order.status, order.filled_qty, order.qty
    if not status.is_terminal:
        if status is Status.UNTRIGGERED:
            return "untriggered", None
        return ("partially_filled" if filled > 0 else "open"), None
    if filled > 0 and filled >= qty:
        return "filled", None
    if status is Status.FILLED:  # ended "filled" with part of it prevented or canceled
        return "canceled", None
    reason = None if order.end_reason is None else order.end_reason.value
    if status is Status.EXPIRED and not registry.states_expired(order.venue):
        return "canceled", reason
    return status.value, reason


def order_truth(order: Order) -> dict[str, Any]:
    status, reason = canonical_status(order)
    return {
        "venue": order.venue,
        "account": order.account,
        "order_id": order.order_id,
        "symbol": order.symbol,
        "venue_symbol": order.venue_symbol,
        "side": order.side.value,
        "status": status,
        "cancel_reason": reason,
        "qty": order.qty,
        "filled_qty": order.filled_qty,
        "remaining_qty": order.remaining,
        "canceled_qty": order.qty - order.filled_qty - order.remaining,
        "avg_fill_price": order.avg_price,
        "fee": order.fee,
        "fee_asset": order.fee_asset,
        "client_order_id": order.client_order_id,
        "trades_count": order.trades_count,
    }


def fill_truth(fill: Fill) -> dict[str, Any]:
    return {
        "venue": fill.venue,
        "account": fill.account,
        "symbol": fill.symbol,
        "order_id": fill.order_id,
        "trade_id": fill.trade_id,
        "side": fill.side.value,
        "price": fill.price,
        "qty": fill.qty,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "liquidity": fill.liquidity.value,
        "trade_time": fill.time,
    }


def fold_positions(
    fills: Iterable[Fill], trade_ids: Mapping[tuple[str, str, str], str] | None = None
) -> dict[PositionKey, dict[str, Any]]:
    """Average-cost positions per (venue, account, symbol), signed, fees per asset. Fills are
    ordered by (time, trade id, order id) with the trade id the pipeline sees: `trade_ids`
    maps (venue, order id, engine trade id) to it where the venue states none (SSI)."""
    known = trade_ids or {}
    grouped: dict[PositionKey, list[Fill]] = {}
    for fill in fills:
        grouped.setdefault((fill.venue, fill.account, fill.symbol), []).append(fill)
    positions: dict[PositionKey, dict[str, Any]] = {}
    for key, group in grouped.items():
        qty = avg = realized = ZERO
        fees: dict[str, Decimal] = {}
        group.sort(
            key=lambda f: (
                f.time,
                known.get((f.venue, f.order_id, f.trade_id), f.trade_id),
                f.order_id,
            )
        )
        for fill in group:
            size, price = fill.qty, fill.price
            signed = size if fill.side is Side.BUY else -size
            new_qty = qty + signed
            if qty == 0 or (qty > 0) == (signed > 0):
                avg = (avg * abs(qty) + price * size) / abs(new_qty)
            elif size <= abs(qty):
                realized += (price - avg) * size if qty > 0 else (avg - price) * size
                if new_qty == 0:
                    avg = ZERO
            else:
                realized += (price - avg) * qty
                avg = price
            qty = new_qty
            if fill.fee:
                fees[fill.fee_asset] = fees.get(fill.fee_asset, ZERO) + fill.fee
        positions[key] = {
            "venue": key[0],
            "account": key[1],
            "symbol": key[2],
            "qty": qty,
            "avg_price": avg,
            "realized_pnl": realized,
            "fees": fees,
            "fill_count": len(group),
        }
    return positions


@dataclass
class GroundTruth:
    """Every order, fill and position the simulator produced, in canonical terms."""

    orders: dict[OrderKey, dict[str, Any]] = field(default_factory=dict)
    fills: dict[FillKey, dict[str, Any]] = field(default_factory=dict)
    positions: dict[PositionKey, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_exchanges(
        cls,
        exchanges: Iterable[Exchange],
        accounts: Iterable[str] | None = None,
        trade_ids: Mapping[tuple[str, str, str], str] | None = None,
    ) -> GroundTruth:
        wanted = None if accounts is None else set(accounts)
        truth = cls()
        all_fills: list[Fill] = []
        for exchange in exchanges:
            for order in exchange.orders.values():
                if wanted is None or order.account in wanted:
                    truth.orders[(order.venue, order.account, order.order_id)] = order_truth(order)
            all_fills.extend(f for f in exchange.fills if wanted is None or f.account in wanted)
        for fill in all_fills:
            truth.fills[(fill.venue, fill.account, fill.order_id, fill.trade_id)] = fill_truth(fill)
        truth.positions = fold_positions(all_fills, trade_ids)
        return truth

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: decimals as plain strings without trailing zeros."""
        return {
            "orders": [_plain(row) for _, row in sorted(self.orders.items())],
            "fills": [_plain(row) for _, row in sorted(self.fills.items())],
            "positions": [_plain(row) for _, row in sorted(self.positions.items())],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> GroundTruth:
        """The inverse of `to_json` (what `GET /control/truth` serves), decimals restored,
        so a test or a tool in another process can `compare` against it."""
        truth = cls()
        for row in document.get("orders", ()):
            order = {k: _decimal_field(k, v, _ORDER_DECIMALS) for k, v in row.items()}
            truth.orders[(order["venue"], order["account"], order["order_id"])] = order
        for row in document.get("fills", ()):
            fill = {k: _decimal_field(k, v, _FILL_DECIMALS) for k, v in row.items()}
            key = (fill["venue"], fill["account"], fill["order_id"], fill["trade_id"])
            truth.fills[key] = fill
        for row in document.get("positions", ()):
            position = {k: _decimal_field(k, v, _POSITION_DECIMALS) for k, v in row.items()}
            position["fees"] = {a: Decimal(v) for a, v in (row.get("fees") or {}).items()}
            truth.positions[(position["venue"], position["account"], position["symbol"])] = position
        return truth

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for row in self.orders.values():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        by_status = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        return (
            f"orders {len(self.orders)} ({by_status}), fills {len(self.fills)}, "
            f"positions {len(self.positions)}"
        )


_ORDER_DECIMALS = frozenset(
    {"qty", "filled_qty", "remaining_qty", "canceled_qty", "avg_fill_price", "fee"}
)
_FILL_DECIMALS = frozenset({"price", "qty", "fee"})
_POSITION_DECIMALS = frozenset({"qty", "avg_price", "realized_pnl"})


def _decimal_field(name: str, value: Any, decimals: frozenset[str]) -> Any:
    return Decimal(value) if name in decimals and value is not None else value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return "0" if not value else f"{value.normalize():f}"
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _get(obj: Any, name: str) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return getattr(value, "value", value)  # enums -> their string


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _same(expected: Any, actual: Any, tolerance: Decimal | None = None) -> bool:
    if isinstance(expected, Decimal) or isinstance(actual, Decimal):
        left, right = _dec(expected), _dec(actual)
        if left is None or right is None:
            return left is None and right is None
        if tolerance is None:
            return left == right
        return abs(left - right) <= tolerance * max(abs(left), abs(right), Decimal(1))
    return bool(expected == actual)


@dataclass
class Comparison:
    """How the pipeline's result compares with the truth, per kind of record."""

    orders_total: int = 0
    orders_matched: int = 0
    positions_total: int = 0
    positions_matched: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"orders {self.orders_matched}/{self.orders_total} match, "
            f"positions {self.positions_matched}/{self.positions_total} match"
        )


def compare(
    truth: GroundTruth,
    orders: Iterable[Any],
    positions: Iterable[Any],
    tolerance: Decimal = Decimal("1e-12"),
) -> Comparison:
    """Compare pipeline order states and positions (objects or dicts) with `truth`."""
    result = Comparison(len(truth.orders), 0, len(truth.positions), 0)
    seen: dict[OrderKey, Any] = {}
    for state in orders:
        seen[(_get(state, "venue"), _get(state, "account"), _get(state, "order_id"))] = state
    for key, expected in sorted(truth.orders.items()):
        actual = seen.pop(key, None)
        if actual is None:
            result.problems.append(f"order {key}: missing from the pipeline")
            continue
        wrong = [
            f"{name}: expected {expected[name]!s}, stored {_get(actual, name)!s}"
            for name in _EXACT_ORDER_FIELDS
            if (name != "cancel_reason" or expected["status"] in ("canceled", "expired"))
            and not _same(expected[name], _get(actual, name))
        ]
        if not _same(expected["avg_fill_price"], _get(actual, "avg_fill_price"), tolerance):
            wrong.append(
                f"avg_fill_price: expected {expected['avg_fill_price']}, "
                f"stored {_get(actual, 'avg_fill_price')}"
            )
        if wrong:
            result.problems.append(f"order {key}: " + "; ".join(wrong))
        else:
            result.orders_matched += 1
    result.problems.extend(f"order {key}: not in the truth" for key in sorted(seen))
    by_key = {(_get(p, "venue"), _get(p, "account"), _get(p, "symbol")): p for p in positions}
    for key, expected in sorted(truth.positions.items()):
        actual = by_key.pop(key, None)
        if actual is None:
            result.problems.append(f"position {key}: missing from the pipeline")
            continue
        wrong = [
            f"{name}: expected {expected[name]!s}, stored {_get(actual, name)!s}"
            for name in _EXACT_POSITION_FIELDS
            if not _same(expected[name], _get(actual, name))
        ]
        wrong += [
            f"{name}: expected {expected[name]!s}, stored {_get(actual, name)!s}"
            for name in _APPROX_POSITION_FIELDS
            if not _same(expected[name], _get(actual, name), tolerance)
        ]
        fees = {k: _dec(v) for k, v in (_get(actual, "fees") or {}).items() if _dec(v)}
        if fees != expected["fees"]:
            wrong.append(f"fees: expected {expected['fees']}, stored {fees}")
        if wrong:
            result.problems.append(f"position {key}: " + "; ".join(wrong))
        else:
            result.positions_matched += 1
    result.problems.extend(f"position {key}: not in the truth" for key in sorted(by_key))
    return result
