"""Refusals that arrive after the acknowledgement (SSI `orderError`) and upbit's 300-order
cap on `DELETE /v1/orders/open`."""

from __future__ import annotations

import asyncio
import time

import orjson
from cancel_helpers import FakeClient, canceled, state
from test_cancel_executor import cmd, setup

from pipeline.commands.capabilities import CAPABILITIES
from pipeline.commands.clients.base import Ack, BusinessError, VenueAccount
from pipeline.commands.clients.ssi import SsiCancelClient
from pipeline.commands.model import parse_command
from pipeline.commands.planner import CANCEL, CANCEL_SCOPE, plan
from pipeline.commands.state_view import StateView
from pipeline.domain.events import OrderStatus
from pipeline.schemas import validate
from pipeline.venues.credentials import Credentials


class RefusingClient(FakeClient):
    """Acknowledges, then refuses on the 'stream' `delay` s later (SSI's orderError)."""

    def __init__(self, *args, code="ORD013", message="Order not found.", delay=0.05, **kw):
        super().__init__(*args, confirm=False, **kw)
        self.code, self.message, self.delay = code, message, delay
        self.pending: list[asyncio.Future] = []

    async def cancel_order(self, s):
        self.calls.append(("cancel", s.order_id))
        refusal = asyncio.get_running_loop().create_future()
        self.pending.append(refusal)
        loop = asyncio.get_running_loop()
        loop.call_later(
            self.delay,
            lambda: refusal.done() or refusal.set_result(BusinessError(self.code, self.message)),
        )
        if self.on_call is not None:
            self.on_call()
        return Ack(order_ids=[s.order_id], refusals={s.order_id: refusal})


async def test_ssi_stream_refusal_fails_the_outcome_before_the_timeout():
    executor, _clients, published, view = setup("ssi", state("ssi", "7"), timeout=10)
    client = RefusingClient("ssi", "alice", view)
    executor.clients[("ssi", "alice")] = client
    started = time.monotonic()
    result = await executor.handle(cmd("ssi", symbol="HPG", order_id="7"))
    assert time.monotonic() - started < 5  # the error grace, not the 10 s timeout
    assert result["status"] == "failed", result
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "failed"
    assert outcome["venue_error_code"] == "ORD013"
    assert outcome["venue_error"] == "Order not found."
    for r in published:
        validate("command_result", r)


async def test_ssi_refusal_explained_by_a_fill_is_already_terminal():
    s = state("ssi", "7")
    executor, _clients, _published, view = setup("ssi", s, timeout=10)
    client = RefusingClient(
        "ssi", "alice", view, code="ORD011", message="Invalid Order Transition Error!"
    )
    client.on_call = lambda: view.apply(
        state("ssi", "7", status=OrderStatus.FILLED, filled="1", version=2)
    )
    executor.clients[("ssi", "alice")] = client
    result = await executor.handle(cmd("ssi", symbol="HPG", order_id="7"))
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "already_terminal", result
    assert result["status"] == "completed"


async def test_refusal_after_the_cancel_is_confirmed_changes_nothing_and_is_released():
    s = state("ssi", "7")
    executor, _clients, _published, view = setup("ssi", s, timeout=10)
    client = RefusingClient("ssi", "alice", view, delay=30)
    client.on_call = lambda: view.apply(canceled(s))
    executor.clients[("ssi", "alice")] = client
    result = await executor.handle(cmd("ssi", symbol="HPG", order_id="7"))
    assert result["outcomes"][0]["outcome"] == "canceled"
    assert all(f.cancelled() for f in client.pending)  # the client forgets the request id
    assert executor._refusals == {}


def ssi_client() -> SsiCancelClient:
    return SsiCancelClient(VenueAccount("ssi", "alice", "http://x", Credentials("k", "s")))


async def test_ssi_client_matches_order_errors_by_request_id():
    client = ssi_client()
    mine = client._expect_refusal("1234")
    other = client._expect_refusal("99")
    event = {"type": "orderEvent", "data": {"notifyID": 4, "uniqueID": "1234"}}
    client.on_stream(orjson.dumps(event))
    assert not mine.done()
    error = {
        "type": "orderError",
        "data": {"notifyID": 5, "uniqueID": "1234", "errorCode": "ORD011",
                 "message": "Invalid Order Transition Error!"},
    }  # fmt: skip
    client.on_stream(orjson.dumps(error).decode())
    assert mine.result().code == "ORD011"
    assert mine.result().message == "Invalid Order Transition Error!"
    assert not other.done()
    assert client._notify_id == 5
    await asyncio.sleep(0)
    assert "1234" not in client._refusals  # forgotten once settled
    client.on_stream(b"not json")
    inner = {"requestID": "99", "errorCode": "ORD013", "message": "Order not found."}
    client.on_stream(orjson.dumps({"type": "orderError", "data": orjson.dumps(inner).decode()}))
    assert other.result().code == "ORD013"
    await client.close()


async def test_ssi_client_without_stream_url_does_not_listen():
    client = ssi_client()
    assert await client._listening() is False
    await client.close()


# -- upbit: at most 300 orders per DELETE /v1/orders/open ---------------------------------


def many(n: int) -> list:
    return [state("upbit", f"o{i:04d}") for i in range(n)]


def test_upbit_scope_above_300_orders_is_one_scope_request_and_a_note():
    view = StateView()
    view.apply_all(many(305))
    command = parse_command(
        {"command_id": "c", "venue": "upbit", "issued_by": "o", "issued_at": 1, "account": "alice"}
    )
    p = plan(command, view, CAPABILITIES["upbit"], {"alice": 1})
    assert [a.kind for a in p.actions] == [CANCEL_SCOPE]
    assert "305 orders exceed the scope cancel's 300 per request" in "; ".join(p.notes)
    p = plan(command, view, CAPABILITIES["upbit"], {"alice": 0})  # no budget: order by order
    assert {a.kind for a in p.actions} == {CANCEL}
    assert len(p.actions) == 305


class CappedScopeClient(FakeClient):
    """`DELETE /v1/orders/open` with count=300: reaches the first 300 only."""

    async def cancel_scope(self, venue_symbol, states):
        self.calls.append(("scope", venue_symbol, len(states)))
        for s in states[:300]:
            self._confirm(s)
        return Ack(order_ids=[s.order_id for s in states[:300]])


async def test_upbit_scope_above_300_cancels_the_rest_order_by_order():
    orders = many(305)
    executor, _clients, published, view = setup("upbit", *orders, timeout=5)
    client = CappedScopeClient("upbit", "alice", view)
    executor.clients[("upbit", "alice")] = client
    result = await executor.handle(cmd("upbit", account="alice"))
    assert result["status"] == "completed", result["reason"]
    assert [c for c in client.calls if c[0] == "scope"] == [("scope", None, 305)]
    singles = sorted(c[1] for c in client.calls if c[0] == "cancel")
    assert singles == [s.order_id for s in orders[300:]]
    assert all(o["outcome"] == "canceled" for o in result["outcomes"])
    notes = [o["note"] or "" for o in result["outcomes"]]
    assert sum("canceled order by order" in n for n in notes) == 5
    assert "exceed the scope cancel's 300" in result["reason"]
    for r in published:
        validate("command_result", r)
