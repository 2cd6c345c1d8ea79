"""Simulated venues that keep their state across runs, as real venues do (issue 11 item 3).

A simulator given a state directory, stopped at any instant (cleanly, or killed: nothing
but what was journaled survives), is continued by a new simulator on the same directory
into exactly the state an uninterrupted simulator reaches: same orders, fills, positions,
server state, and no id issued twice.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pipeline.sim.clock import ManualClock
from pipeline.sim.kits import VENUE_KITS
from pipeline.sim.persistence import SimStateError
from pipeline.sim.server import SimConfig, Simulator

VENUES = tuple(sorted(VENUE_KITS))
ACCOUNTS = {"futures_gateway": ("EXCHANGE_1", "EXCHANGE_2")}


def _config(seed: int, state_dir: Path | None) -> SimConfig:
    return SimConfig(
        seed=seed, rate=0, venues=VENUES, control_port=None, venue_accounts=ACCOUNTS,
        state_dir=state_dir,
    )  # fmt: skip


def _sim(seed: int, state_dir: Path | None, at_ms: int) -> Simulator:
    return Simulator(_config(seed, state_dir), clock=ManualClock(start_ms=at_ms, step_ms=7))


def _picture(sim: Simulator) -> tuple[object, ...]:
    truth = sim.truth()
    servers = {venue: server.export_state() for venue, server in sim.servers.items()}
    ids = {venue: exchange.ids.state() for venue, exchange in sim.exchanges.items()}
    books = {
        venue: {symbol: [o.order_id for o in book.orders()] for symbol, book in ex.books.items()}
        for venue, ex in sim.exchanges.items()
    }
    return truth.orders, truth.fills, truth.positions, servers, ids, books, sim.flow.actions


def _clock_ms(sim: Simulator) -> int:
    clock = sim.clock
    assert isinstance(clock, ManualClock)
    return clock.now


@pytest.mark.parametrize("seed", [1, 2, 5])
@pytest.mark.parametrize("clean_stop", [False, True])
def test_a_continued_simulator_equals_an_uninterrupted_one(
    tmp_path: Path, seed: int, clean_stop: bool
) -> None:
    start = 1_767_225_600_000
    whole = _sim(seed, None, start)  # never stopped, never kept
    first = _sim(seed, tmp_path, start)
    for sim in (whole, first):
        sim.step(250)
    assert _picture(first) == _picture(whole)
    seen = {(v, oid) for v, ex in first.exchanges.items() for oid in ex.orders}
    if clean_stop:
        assert first.keeper is not None
        first.keeper.close()

    second = _sim(seed, tmp_path, _clock_ms(first))  # the next run: first's memory is gone
    assert first.keeper is not None
    assert second.opened is not None
    assert second.opened.earlier_runs == 1
    assert second.opened.replayed == (0 if clean_stop else first.keeper.journal.records)
    assert _picture(second) == _picture(whole)  # resting orders, fills, ids: all kept

    for sim in (whole, second):
        sim.step(250)
    assert _picture(second) == _picture(whole)
    new = {(v, oid) for v, ex in second.exchanges.items() for oid in ex.orders} - seen
    assert len(new) > 50  # new orders, none reusing an id of the first run
    resting = [o for ex in first.exchanges.values() for o in ex.live_orders.values()]
    assert resting, "the first run left orders resting"
    later = {o.order_id: o for ex in second.exchanges.values() for o in ex.orders.values()}
    assert any(later[o.order_id].status != o.status for o in resting)  # they went on living


def test_three_runs_count_and_a_clean_stop_replays_nothing(tmp_path: Path) -> None:
    at = 1_767_225_600_000
    for run in range(3):
        sim = _sim(4, tmp_path, at)
        assert sim.opened is not None
        assert sim.opened.earlier_runs == run
        sim.step(40)
        at = _clock_ms(sim)
        assert sim.keeper is not None
        sim.keeper.close()
    again = _sim(4, tmp_path, at)
    assert again.opened is not None
    assert (again.opened.earlier_runs, again.opened.replayed) == (3, 0)
    assert "3 earlier run(s)" in again.opened.describe()


def test_a_record_cut_short_by_a_kill_is_ignored(tmp_path: Path) -> None:
    first = _sim(6, tmp_path, 1_767_225_600_000)
    first.step(60)
    expected = _picture(first)
    with (tmp_path / "journal.jsonl").open("ab") as journal:
        journal.write(b'{"u": "op", "n": "pla')  # the kill came mid-write
    second = _sim(6, tmp_path, _clock_ms(first))
    assert _picture(second) == expected


def test_a_damaged_journal_is_refused_by_name(tmp_path: Path) -> None:
    first = _sim(6, tmp_path, 1_767_225_600_000)
    first.step(60)
    with (tmp_path / "journal.jsonl").open("ab") as journal:
        journal.write(b"not json\n")
    with pytest.raises(SimStateError, match=r"journal\.jsonl.*line \d+ is not valid JSON"):
        _sim(6, tmp_path, _clock_ms(first))


def test_a_journal_that_replays_otherwise_is_refused(tmp_path: Path) -> None:
    first = _sim(6, tmp_path, 1_767_225_600_000)
    first.step(60)
    path = tmp_path / "journal.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    record = orjson.loads(lines[1])
    record["post"] = {venue: seq + 1000 for venue, seq in record["post"].items()}
    lines[1] = orjson.dumps(record) + b"\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(SimStateError, match="record 1 does not replay"):
        _sim(6, tmp_path, _clock_ms(first))


def test_another_setup_is_refused_naming_what_differs(tmp_path: Path) -> None:
    first = _sim(6, tmp_path, 1_767_225_600_000)
    first.step(10)
    with pytest.raises(SimStateError, match="seed 6 there, 7 now"):
        _sim(7, tmp_path, _clock_ms(first))


def test_another_format_version_is_refused(tmp_path: Path) -> None:
    first = _sim(6, tmp_path, 1_767_225_600_000)
    assert first.keeper is not None
    first.keeper.close()
    path = tmp_path / "state.json"
    head, _, body = path.read_bytes().partition(b"\n")
    header = orjson.loads(head)
    header["version"] = 99
    path.write_bytes(orjson.dumps(header) + b"\n" + body)
    with pytest.raises(SimStateError, match="format version 99"):
        _sim(6, tmp_path, 1_767_225_700_000)
