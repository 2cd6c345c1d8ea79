from __future__ import annotations

from decimal import Decimal

from cancel_helpers import state

from pipeline.commands.capabilities import CAPABILITIES
from pipeline.commands.model import parse_command
from pipeline.commands.planner import AMEND, CANCEL, CANCEL_SCOPE, REPLACE, plan
from pipeline.commands.state_view import StateView
from pipeline.domain.events import OrderStatus

D = Decimal


def command(venue, **extra):
    return parse_command(
        {"command_id": "c", "venue": venue, "issued_by": "o", "issued_at": 1, **extra}
    )


def view_of(*states):
    view = StateView()
    view.apply_all(states)
    return view


def kinds(p):
    return [(a.kind, a.account, [s.order_id for s in a.orders]) for a in p.actions]


def test_order_scope_unknown_order_is_not_found_and_nothing_sent():
    p = plan(command("upbit", symbol="BTC/KRW", order_id="nope"), view_of(), CAPABILITIES["upbit"])
    assert [o.outcome for o in p.outcomes] == ["not_found"]
    assert p.actions == []


def test_order_scope_terminal_order_is_already_terminal():
    view = view_of(state("binance", "1", status=OrderStatus.FILLED, filled="1"))
    p = plan(command("binance", symbol="BTCUSDT", order_id="1"), view, CAPABILITIES["binance"])
    assert p.outcomes[0].outcome == "already_terminal"
    assert p.actions == []


def test_order_scope_symbol_mismatch_is_not_found():
    view = view_of(state("binance", "1"))
    p = plan(command("binance", symbol="ETH/USDT", order_id="1"), view, CAPABILITIES["binance"])
    assert p.outcomes[0].outcome == "not_found"


def test_pending_cancel_counts_as_in_flight():
    view = view_of(state("ssi", "1", status=OrderStatus.PENDING_CANCEL))
    p = plan(command("ssi", symbol="HPG", order_id="1"), view, CAPABILITIES["ssi"])
    assert p.actions == []
    assert p.outcomes[0].outcome == "pending"
    assert "in flight" in p.outcomes[0].note


def test_upbit_qty_is_ignored_and_whole_remainder_canceled():
    view = view_of(state("upbit", "u1", qty="1"))
    p = plan(
        command("upbit", symbol="KRW-BTC", order_id="u1", qty="0.5"), view, CAPABILITIES["upbit"]
    )
    assert kinds(p) == [(CANCEL, "alice", ["u1"])]
    assert "qty ignored" in p.outcomes[0].note


def test_binance_partial_is_an_amend_to_the_reduced_quantity():
    view = view_of(state("binance", "7", qty="1", filled="0.2"))
    p = plan(
        command("binance", symbol="BTC/USDT", order_id="7", qty="0.3"),
        view,
        CAPABILITIES["binance"],
    )
    assert kinds(p) == [(AMEND, "alice", ["7"])]
    assert p.actions[0].new_qty == D("0.7")


def test_coinone_partial_is_a_replace():
    view = view_of(state("coinone", "c1", qty="1"))
    p = plan(
        command("coinone", symbol="BTC/KRW", order_id="c1", qty="0.5"),
        view,
        CAPABILITIES["coinone"],
    )
    assert kinds(p) == [(REPLACE, "alice", ["c1"])]
    assert p.actions[0].reduce_by == D("0.5")
    assert "priority lost" in p.outcomes[0].note


def test_qty_at_or_above_remaining_cancels_the_remainder():
    view = view_of(state("coinone", "c1", qty="1", filled="0.4"))
    p = plan(
        command("coinone", symbol="BTC/KRW", order_id="c1", qty="0.6"),
        view,
        CAPABILITIES["coinone"],
    )
    assert kinds(p) == [(CANCEL, "alice", ["c1"])]


def test_partial_on_a_venue_without_it_fails_without_sending():
    view = view_of(state("ssi", "1", qty="300"))
    p = plan(command("ssi", symbol="HPG", order_id="1", qty="100"), view, CAPABILITIES["ssi"])
    assert p.actions == []
    assert p.outcomes[0].outcome == "failed"


def test_symbol_scope_targets_only_cancellable_orders_of_that_symbol():
    view = view_of(
        state("binance", "1"),
        state("binance", "2", status=OrderStatus.PARTIALLY_FILLED, filled="0.5"),
        state("binance", "3", status=OrderStatus.FILLED, filled="1"),
        state("binance", "4", symbol=("ETH/USDT", "ETHUSDT")),
        state("binance", "5", account="bob"),
    )
    p = plan(command("binance", symbol="BTCUSDT", account="alice"), view, CAPABILITIES["binance"])
    assert kinds(p) == [(CANCEL_SCOPE, "alice", ["1", "2"])]
    assert p.actions[0].venue_symbol == "BTCUSDT"


def test_venue_scope_covers_every_account_and_symbol():
    view = view_of(
        state("binance", "1"),
        state("binance", "4", symbol=("ETH/USDT", "ETHUSDT")),
        state("binance", "5", account="bob"),
        state("upbit", "9"),
    )
    p = plan(command("binance"), view, CAPABILITIES["binance"])
    assert sorted(o.order_id for o in p.outcomes) == ["1", "4", "5"]
    assert all(a.kind == CANCEL for a in p.actions)  # one order per symbol: order.cancel


def test_gateway_scope_uses_cancel_all_while_budget_lasts_then_per_order():
    view = view_of(
        state("futures_gateway", "a", account="EX1"),
        state("futures_gateway", "b", account="EX1", status=OrderStatus.UNTRIGGERED),
    )
    caps = CAPABILITIES["futures_gateway"]
    with_budget = plan(command("futures_gateway", account="EX1"), view, caps, {"EX1": 1})
    assert kinds(with_budget) == [(CANCEL_SCOPE, "EX1", ["a", "b"])]
    exhausted = plan(command("futures_gateway", account="EX1"), view, caps, {"EX1": 0})
    assert kinds(exhausted) == [(CANCEL, "EX1", ["a"]), (CANCEL, "EX1", ["b"])]
    assert "budget exhausted" in exhausted.notes[0]


def test_upbit_scope_prefers_cancel_open_for_many_wait_orders_and_single_for_watch():
    view = view_of(
        *(state("upbit", f"w{i}") for i in range(3)),
        state("upbit", "watch", status=OrderStatus.UNTRIGGERED),
    )
    p = plan(command("upbit", symbol="BTC/KRW"), view, CAPABILITIES["upbit"], {"alice": 1})
    assert kinds(p) == [(CANCEL_SCOPE, "alice", ["w0", "w1", "w2"]), (CANCEL, "alice", ["watch"])]
    few = view_of(state("upbit", "w0"))
    assert kinds(plan(command("upbit"), few, CAPABILITIES["upbit"], {"alice": 1})) == [
        (CANCEL, "alice", ["w0"])
    ]


def test_capabilities_spell_unified_symbols_like_the_venue():
    assert CAPABILITIES["upbit"].venue_symbol("BTC/KRW") == "KRW-BTC"
    assert CAPABILITIES["coinone"].venue_symbol("btc/krw") == "BTC-KRW"
    assert CAPABILITIES["binance"].venue_symbol("BTC/USDT") == "BTCUSDT"
    assert CAPABILITIES["futures_gateway"].venue_symbol("BTC/USDT:USDT") == "BTCUSDT"
    assert CAPABILITIES["ssi"].venue_symbol("HPG/VND") == "HPG"
    assert CAPABILITIES["upbit"].venue_symbol("KRW-BTC") == "KRW-BTC"
