"""Per-venue accounts: the futures gateway trades for exchange-named accounts, the other
venues for the default ones, in one simulator."""

from __future__ import annotations

from pipeline.sim.clock import ManualClock
from pipeline.sim.server import SimConfig, Simulator


def test_venue_accounts_name_the_gateway_accounts_and_the_flow_uses_them() -> None:
    config = SimConfig(
        seed=3, rate=0, venues=("coinone", "futures_gateway"), control_port=None,
        venue_accounts={"futures_gateway": ("EXCHANGE_1", "EXCHANGE_2")},
    )  # fmt: skip
    sim = Simulator(config, clock=ManualClock(step_ms=1))
    assert [c.account for c in sim.credentials("futures_gateway")] == [
        "EXCHANGE_1", "EXCHANGE_2", "house"
    ]  # fmt: skip
    assert [c.account for c in sim.credentials("coinone")] == ["alice", "bob", "carol", "house"]
    sim.step(300)
    accounts = {v: {o.account for o in e.orders.values()} for v, e in sim.exchanges.items()}
    assert accounts["futures_gateway"] == {"EXCHANGE_1", "EXCHANGE_2", "house"}
    assert accounts["coinone"] == {"alice", "bob", "carol", "house"}
    assert config.accounts_of("coinone") == ("alice", "bob", "carol")
