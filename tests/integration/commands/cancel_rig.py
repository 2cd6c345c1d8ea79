"""The cancel test rig: all five simulated venues (no background flow, no house liquidity, so orders
rest until a test fills them), their cancel clients, and a StateView fed from the truth."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cancel_simstate import SimStateFeed

from pipeline.commands.clients.base import VenueAccount
from pipeline.commands.executor import CancelExecutor
from pipeline.commands.state_view import StateView
from pipeline.sim.engine import OrderRequest, OrderType, Side
from pipeline.sim.server import Simulator
from pipeline.venues.credentials import Credentials

VENUES = ("upbit", "binance", "coinone", "ssi", "futures_gateway")
ACCOUNTS = ("alice", "bob")
KEY = "integration-command-key"
# venue -> (venue symbol, resting buy price, qty)
BOOK = {
    "upbit": ("KRW-BTC", "100000000", "0.01"),
    "binance": ("BTCUSDT", "50000", "0.01"),
    "coinone": ("BTC-KRW", "100000000", "0.01"),
    "ssi": ("HPG", "20000", "300"),
    "futures_gateway": ("BTCUSDT", "50000", "0.01"),
}


def venue_accounts(sim: Simulator) -> list[VenueAccount]:
    out = []
    for venue in VENUES:
        endpoints = sim.endpoints()[venue]
        for account in ACCOUNTS:
            cred = sim.credential(venue, account)
            out.append(
                VenueAccount(
                    venue,
                    account,
                    sim.base_url(venue),
                    Credentials(cred.key, cred.secret),
                    ws_url=endpoints.get("ws_api") or endpoints.get("stream"),  # ssi: stream
                    private_key=getattr(cred, "private_key", None),
                    pin="123456",
                )
            )
    return out


@dataclass
class Rig:
    sim: Simulator
    view: StateView
    feed: SimStateFeed
    executor: CancelExecutor
    published: list

    def place(
        self,
        venue: str,
        account: str = "alice",
        price: str | None = None,
        qty: str | None = None,
        side: Side = Side.BUY,
        symbol: str | None = None,
    ) -> str:
        default_symbol, default_price, default_qty = BOOK[venue]
        exchange = self.sim.exchanges[venue]
        order, _ = exchange.place(
            OrderRequest(
                account,
                symbol or default_symbol,
                side,
                OrderType.LIMIT,
                qty=Decimal(qty or default_qty),
                price=Decimal(price or default_price),
            ),
            self.sim.clock(),
        )
        if not self.feed.paused:
            self.feed.poll()
        return order.order_id

    def order(self, venue: str, order_id: str):
        return self.sim.exchanges[venue].order(order_id)
