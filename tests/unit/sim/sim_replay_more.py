"""Test helpers for Coinone, SSI and the futures gateway: run a seeded flow offline and render
every engine event as each venue's channels would carry it (no sockets).

Channels rendered, by venue:
- coinone: `MYORDER` frames; `rest.order_detail` after every event (a client polling each
  order it hears about); the cancel reply `rest.order_cancel:<PAIR>` for user cancels;
  `rest.active_orders` every 50 steps; `rest.completed_orders` (all fills, pages of 100) at
  the end;
- ssi: `stream` messages (orderEvent / orderMatchEvent / orderError, one notifyID serial);
  `rest.orderBook` and `rest.auditOrderBook` of every account every 50 steps and at the end;
- futures_gateway: `rest.order_status` after every event (the gateway has no push channel),
  `rest.open_orders` every 50 steps, and a `rest.cancel_all` reply per cancel_all; with the
  `trades` channel also `rest.trades` per account and symbol at every poll (the trades since
  the newest one listed, that millisecond included, pages of 100) and at the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson

from pipeline.domain.book import TradingBook
from pipeline.domain.implied import plain
from pipeline.envelope import RawEnvelope
from pipeline.sim import coinone_wire, futures_gateway_wire, ssi_wire
from pipeline.sim.clock import ManualClock
from pipeline.sim.engine import (
    EndReason,
    EngineEvent,
    EventKind,
    Exchange,
    HouseLiquidity,
    IdScheme,
)
from pipeline.sim.flow import FlowConfig, FlowProfile, OrderFlow, VenueFlow
from pipeline.sim.kits import VENUE_KITS
from pipeline.sim.truth import GroundTruth, fold_positions
from pipeline.venues import normalizer_for

Payload = tuple[str, str, Any, int]  # (account, channel, payload, received at: epoch ms)
Poller = Callable[[Exchange, list[str], list[Payload], int], None]


def coinone_renderer(out: list[Payload], channels: frozenset[str]) -> Any:
    def render(events: Sequence[EngineEvent]) -> None:
        for event in events:
            order = event.order
            if "MYORDER" in channels:
                out.extend(
                    (event.account, "MYORDER", f, event.time)
                    for f in coinone_wire.myorder_frames(event)
                )
            if "rest" not in channels:
                continue
            if (
                event.kind is EventKind.CANCELED
                and order.end_reason is EndReason.USER
                and event.qty is not None
            ):
                reply = coinone_wire.cancel_reply(order, event.qty, event.time)
                channel = f"rest.order_cancel:{order.venue_symbol}"
                out.append((event.account, channel, reply, event.time))
            body = coinone_wire.detail_reply(order)
            out.append((event.account, "rest.order_detail", body, event.time))

    return render


def coinone_poll(exchange: Exchange, accounts: list[str], out: list[Payload], now: int) -> None:
    for account in accounts:
        body = coinone_wire.active_orders_reply(exchange.open_orders(account))
        out.append((account, "rest.active_orders", body, now))


def coinone_final(exchange: Exchange, accounts: list[str], out: list[Payload], now: int) -> None:
    for account in accounts:
        items = [
            coinone_wire.trade_item(order, index)
            for order in exchange.orders.values()
            if order.account == account
            for index in range(len(order.fills))
        ]
        for start in range(0, len(items), 100):
            body = coinone_wire.completed_orders_reply(items[start : start + 100])
            out.append((account, "rest.completed_orders", body, now))


def ssi_renderer(out: list[Payload], channels: frozenset[str]) -> Any:
    serial = itertools.count(1)

    def render(events: Sequence[EngineEvent]) -> None:
        if "stream" not in channels:
            return
        for event in events:
            for message in ssi_wire.stream_messages(event, lambda: next(serial)):
                out.append((event.account, "stream", message, event.time))

    return render


def ssi_poll(exchange: Exchange, accounts: list[str], out: list[Payload], now: int) -> None:
    for account in accounts:
        orders = [o for o in exchange.orders.values() if o.account == account]
        out.append((account, "rest.orderBook", ssi_wire.book_reply(account, orders), now))
        audit = ssi_wire.book_reply(account, orders, True)
        out.append((account, "rest.auditOrderBook", audit, now))


def gateway_renderer(out: list[Payload], channels: frozenset[str]) -> Any:
    raised: dict[str, int] = {}

    def render(events: Sequence[EngineEvent]) -> None:
        requested: dict[str, list[str]] = {}
        for event in events:
            if event.kind is EventKind.CANCEL_REQUESTED:
                raised[event.order_id] = event.time
                requested.setdefault(event.account, []).append(event.order_id)
            body = futures_gateway_wire.order_reply(event.order, raised.get(event.order_id))
            out.append((event.account, "rest.order_status", body, event.time))
        for account, ids in requested.items():
            reply = futures_gateway_wire.cancel_all_reply(ids)
            out.append((account, "rest.cancel_all", reply, events[-1].time))

    render.raised = raised  # type: ignore[attr-defined]
    return render


def gateway_poll(exchange: Exchange, accounts: list[str], out: list[Payload], now: int) -> None:
    for account in accounts:
        body = futures_gateway_wire.open_orders_reply(exchange.open_orders(account), {})
        out.append((account, "rest.open_orders", body, now))


def gateway_trades(
    exchange: Exchange, accounts: list[str], out: list[Payload], since: int, now: int
) -> None:
    """`rest.trades` replies as a poller gets them: per account and symbol, the trades of
    `[since, now]`, oldest first, in pages of 100 (a page never ends inside a millisecond)."""
    for account in accounts:
        for symbol in exchange.instruments:
            trades = [
                futures_gateway_wire.trade_object(f, exchange.order(f.order_id).client_order_id)  # type: ignore[union-attr]
                for f in exchange.fills
                if f.account == account and f.venue_symbol == symbol and since <= f.time <= now
            ]
            while trades:
                end = min(100, len(trades))
                while end < len(trades) and trades[end]["time"] == trades[end - 1]["time"]:
                    end += 1
                page, trades = trades[:end], trades[end:]
                out.append((account, "rest.trades", futures_gateway_wire.trades_reply(page), now))


RENDERERS = {"coinone": coinone_renderer, "ssi": ssi_renderer, "futures_gateway": gateway_renderer}
POLLERS: dict[str, Poller] = {"coinone": coinone_poll, "ssi": ssi_poll,
                              "futures_gateway": gateway_poll}  # fmt: skip
FINALS: dict[str, Poller] = {"coinone": coinone_final, "ssi": ssi_poll}
DEFAULT_CHANNELS = {
    "coinone": frozenset({"MYORDER", "rest"}),
    "ssi": frozenset({"stream"}),
    "futures_gateway": frozenset({"rest"}),
}


def run_flow(
    venue: str,
    seed: int,
    steps: int,
    profile: FlowProfile | None = None,
    channels: frozenset[str] | None = None,
    poll_every: int = 50,
    final: bool = True,
) -> tuple[Exchange, list[Payload]]:
    """A seeded flow on one venue; the exchange and every payload rendered, in order."""
    kit = VENUE_KITS[venue]
    exchange = Exchange(venue, kit.instruments, kit.rules, IdScheme(kit.id_style, seed))
    payloads: list[Payload] = []
    exchange.subscribe(RENDERERS[venue](payloads, channels or DEFAULT_CHANNELS[venue]))
    house = HouseLiquidity(exchange, kit.reference_prices, kit.house)
    config = FlowConfig(seed=seed)
    flow = OrderFlow({venue: VenueFlow(exchange, house, profile or kit.flow)}, config)
    accounts = [*config.accounts, house.account]
    clock = ManualClock()
    trades = venue == "futures_gateway" and "trades" in (channels or frozenset())
    trades_from = clock.now
    for step in range(steps):
        flow.step(clock.advance(3))
        if poll_every and step % poll_every == poll_every - 1:
            POLLERS[venue](exchange, accounts, payloads, clock.now)
            if trades:
                gateway_trades(exchange, accounts, payloads, trades_from, clock.now)
                trades_from = clock.now  # the next poll reads this millisecond again
    exchange.complete_pending(clock.advance(100))
    if final and venue in FINALS:
        FINALS[venue](exchange, accounts, payloads, clock.advance(1))
    if final and trades:
        gateway_trades(exchange, accounts, payloads, trades_from, clock.advance(1))
    return exchange, payloads


def fold(venue: str, payloads: Sequence[Payload]) -> TradingBook:
    """Normalize every payload (JSON round trip, as on the wire) and fold the events."""
    book = TradingBook()
    normalizer = normalizer_for(venue)
    for account, channel, payload, received_at in payloads:
        wire = orjson.loads(orjson.dumps(payload))
        for event in normalizer.normalize(RawEnvelope(venue, account, channel, received_at, wire)):
            book.apply(event)
    return book


def observable_truth(venue: str, exchange: Exchange, payloads: Sequence[Payload]) -> GroundTruth:
    """Ground truth with positions folded in the order the venue's payloads can reveal.

    Positions are folded in `(trade_time, trade_id, order_id)` order, and within one
    millisecond that order decides average cost and realized PnL when an account has fills
    on both sides (a self-trade). SSI states no trade id (the normalizer makes
    `<notifyID, zero-padded to 20 digits>:<orderID>`) and the gateway's order replies none at
    all (derived fills are `<orderID>:<cumulative executed>`), so the truth is refolded with
    those ids: the same fills, in the order the pipeline is specified to fold them. With the
    gateway's trade list the engine's own trade ids reach the pipeline.
    """
    truth = GroundTruth.from_exchanges([exchange])
    if venue not in ("ssi", "futures_gateway"):
        return truth
    if any(channel == "rest.trades" for _, channel, _, _ in payloads):
        return truth  # the gateway's trade list states the engine's trade ids
    ids: dict[tuple[str, str], str] = {}
    if venue == "ssi":
        notifies: dict[str, list[int]] = {}
        for _account, channel, message, _time in payloads:
            if channel == "stream" and message["type"] == "orderMatchEvent":
                data = message["data"]
                notifies.setdefault(data["orderID"], []).append(data["notifyID"])
        for order in exchange.orders.values():
            for fill, notify in zip(order.fills, notifies.get(order.order_id, []), strict=False):
                ids[(order.order_id, fill.trade_id)] = f"{notify:020d}:{order.order_id}"
    else:
        for order in exchange.orders.values():
            level = Decimal(0)
            for fill in order.fills:
                level += fill.qty
                ids[(order.order_id, fill.trade_id)] = f"{order.order_id}:{plain(level)}"
    fills = [
        replace(f, trade_id=ids.get((f.order_id, f.trade_id), f.trade_id)) for f in exchange.fills
    ]
    truth.positions = fold_positions(fills)
    return truth
