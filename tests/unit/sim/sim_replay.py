"""Test helpers: run a seeded flow offline, render every engine event as the venue would,
normalize the payloads and fold them through the pipeline's domain (no sockets)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from pipeline.domain.book import TradingBook
from pipeline.envelope import RawEnvelope
from pipeline.sim import binance_wire, upbit_wire
from pipeline.sim.clock import ManualClock
from pipeline.sim.engine import EngineEvent, EventKind, Exchange, HouseLiquidity, IdScheme
from pipeline.sim.flow import FlowConfig, FlowProfile, OrderFlow, VenueFlow
from pipeline.sim.kits import VENUE_KITS
from pipeline.venues import normalizer_for

Payload = tuple[str, str, Any]  # (account, channel, payload)
UPBIT_FORMATS = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")


def upbit_renderer(out: list[Payload]) -> Any:
    formats = itertools.cycle(UPBIT_FORMATS)

    def render(events: Sequence[EngineEvent]) -> None:
        for event in events:
            for frame in upbit_wire.my_order_frames(event):
                fmt = next(formats)
                body: Any = upbit_wire.simple(frame) if fmt.startswith("SIMPLE") else frame
                out.append((event.account, "myOrder", [body] if fmt.endswith("_LIST") else body))

    return render


def _reply(result: Any) -> dict[str, Any]:
    return {"id": "r", "status": 200, "result": result, "rateLimits": []}


def binance_renderer(out: list[Payload]) -> Any:
    """executionReports, plus the replies a client placing/cancelling/amending would get."""

    def render(events: Sequence[EngineEvent]) -> None:
        last: dict[str, EngineEvent] = {}
        for event in events:
            report = binance_wire.execution_report(event)
            if report is not None:
                payload = {"subscriptionId": 0, "event": report}
                out.append((event.account, "userData", payload))
            last[event.order_id] = event
            if event.kind is EventKind.CANCELED:
                body = binance_wire.canceled_order(
                    event.order, binance_wire.cancel_client_id(event), event.time
                )
                out.append((event.account, "wsapi.order.cancel", _reply(body)))
            elif event.kind is EventKind.AMENDED:
                body = binance_wire.amended_order(event.order, event.time, event.seq)
                out.append((event.account, "wsapi.order.amend.keepPriority", _reply(body)))
        for event in events:
            if event.kind is EventKind.ACCEPTED and event.order.trigger is None:
                final = last[event.order_id].order
                body = binance_wire.placed_order(final, "FULL", list(events))
                out.append((event.account, "wsapi.order.place", _reply(body)))

    return render


RENDERERS = {"upbit": upbit_renderer, "binance": binance_renderer}


def run_flow(
    venue: str, seed: int, steps: int, profile: FlowProfile | None = None
) -> tuple[Exchange, list[Payload]]:
    """A seeded flow on one venue; the exchange and every payload rendered, in order."""
    kit = VENUE_KITS[venue]
    exchange = Exchange(venue, kit.instruments, kit.rules, IdScheme(kit.id_style, seed))
    payloads: list[Payload] = []
    exchange.subscribe(RENDERERS[venue](payloads))
    house = HouseLiquidity(exchange, kit.reference_prices, kit.house)
    flow = OrderFlow(
        {venue: VenueFlow(exchange, house, profile or kit.flow)}, FlowConfig(seed=seed)
    )
    clock = ManualClock()
    for step in range(steps):
        flow.step(clock.advance(3))
        if venue == "binance" and step % 50 == 49:  # a client polling open orders
            for account in (*flow.config.accounts, house.account):
                body = [binance_wire.order_status(o) for o in exchange.open_orders(account)]
                payloads.append((account, "wsapi.openOrders.status", _reply(body)))
    exchange.complete_pending(clock.advance(100))
    return exchange, payloads


def fold(venue: str, payloads: Sequence[Payload], received_at: int = 1) -> TradingBook:
    """Normalize every payload (JSON round trip, as on the wire) and fold the events."""
    book = TradingBook()
    normalizer = normalizer_for(venue)
    for account, channel, payload in payloads:
        wire = orjson.loads(orjson.dumps(payload))
        for event in normalizer.normalize(RawEnvelope(venue, account, channel, received_at, wire)):
            book.apply(event)
    return book


def without(profile: FlowProfile, **changes: Any) -> FlowProfile:
    return replace(profile, **changes)
