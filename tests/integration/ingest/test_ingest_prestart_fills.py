"""Orders partly filled before an ingestor first starts.

The first snapshot states such an order's cumulative quantity, which derives fills; the
order's first real trade voids those derived fills (an order's fills never mix the two). So
every ingestor must fetch the earlier trades of the partly filled orders it finds at its
first start, or their fills would stop adding up to what they filled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import pytest
from ingest_helpers import Record, RunningIngest, fold, read_topic

from pipeline.ingest import Backoff
from pipeline.ingest.publisher import now_ms
from pipeline.kafka import ensure_topics, raw_topic
from pipeline.local.broker import TansuBroker
from pipeline.sim.server import SimConfig, Simulator
from pipeline.simwiring import ingest_config
from pipeline.venues import normalizer_for

pytestmark = pytest.mark.integration

ACCOUNTS = ("EXCHANGE_1", "EXCHANGE_2")
HOUR_MS = 3_600_000
POLLED = ("coinone", "ssi", "futures_gateway")


class ShiftedClock:
    """Wall time moved by `shift_ms`: the simulator trades in the past, then catches up."""

    def __init__(self, shift_ms: int) -> None:
        self.shift_ms = shift_ms

    def __call__(self) -> int:
        return now_ms() + self.shift_ms


def real_fills(records: list[Record]) -> Iterator[tuple[str, str, Decimal]]:
    """(order id, trade id, qty) of every trade-level fill the raw messages carry."""
    for record in records:
        envelope = record.envelope
        for event in normalizer_for(envelope.venue).normalize(envelope):
            if event.fill is not None and not event.fills_implied:
                yield event.order_id, event.fill.trade_id, event.fill.qty


@pytest.mark.parametrize("venue", ["upbit", "binance", "coinone", "ssi", "futures_gateway"])
async def test_orders_partly_filled_an_hour_before_the_first_start_count_all_their_trades(
    fresh_broker: TansuBroker, venue: str
) -> None:
    await ensure_topics(fresh_broker.bootstrap, partitions=3)
    clock = ShiftedClock(-HOUR_MS)
    config = SimConfig(seed=5, rate=0, venues=(venue,), accounts=ACCOUNTS, record=True)
    async with Simulator(config, clock=clock) as sim:
        exchange = sim.exchanges[venue]
        partly: dict[str, Decimal] = {}
        for _ in range(30):  # trade until some orders rest partly filled
            sim.step(20)
            sim.settle()  # cancels requested complete now, not when the ingestor starts
            partly = {
                o.order_id: o.filled_qty
                for account in ACCOUNTS
                for o in exchange.open_orders(account)
                if o.filled_qty
            }
            if len(partly) >= 2:
                break
        assert partly, "the flow left no partly filled order open"
        clock.shift_ms = 0  # an hour later, the ingestor starts for the first time
        ingest = ingest_config(
            sim, venues=[venue], backoff=Backoff(0.2, 1.0), ping_interval=0.3,
            poll_interval=0.1, rate_limit=60.0, rate_burst=20.0,
        )  # fmt: skip
        accounts = len(ingest.accounts)
        async with RunningIngest(ingest, fresh_broker.bootstrap) as running:
            await running.until(lambda s: s.total("connects") >= accounts)  # snapshots taken
            done = running.stats.total("snapshots")
            if venue in POLLED:  # and two more polls of every account
                await running.until(lambda s: s.total("snapshots") >= done + 2 * accounts)
            await running.settle()
        records = await read_topic(fresh_broker.bootstrap, raw_topic(venue))
    traded: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for order_id, trade_id, qty in real_fills(records):
        traded[order_id][trade_id] = qty
    states = {state.order_id: state for state in fold(records).orders()}
    for order_id, filled in partly.items():
        assert sum(traded[order_id].values()) == filled, order_id
        assert states[order_id].filled_qty == filled
