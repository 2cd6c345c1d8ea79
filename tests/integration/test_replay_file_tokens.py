"""`pipeline replay --input`: two different files with the same base name are both stored
(issue 15: a second, different `events.jsonl` printed "75 rows" and stored none of its
orders, because the deduplication tokens came from the file's name and line numbers)."""

from __future__ import annotations

from pathlib import Path

from scenario_data import scenario_envelopes
from stream_helpers import TEST_PROCESSING

from pipeline.sink.store import Store
from pipeline.streams.replay import replay_file


def _orders(store: Store) -> set[tuple[str, str, str]]:
    return set(
        store.query(f"SELECT venue, account, order_id FROM {store.database}.orders FINAL").rows
    )


def _events(store: Store) -> int:
    return store.query(f"SELECT count() FROM {store.database}.order_events FINAL").rows[0][0]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_same_base_name_other_accounts_both_stored(store: Store, tmp_path: Path) -> None:
    first = [e.encode() for _k, e in scenario_envelopes("desk-1")]
    second = [e.encode() for _k, e in scenario_envelopes("desk-2")]
    replay_file(_write(tmp_path / "a" / "events.jsonl", first), store, TEST_PROCESSING)
    replay_file(_write(tmp_path / "b" / "events.jsonl", second), store, TEST_PROCESSING)
    per_account = {
        account: {(v, o) for v, a, o in _orders(store) if a == account}
        for account in ("desk-1", "desk-2")
    }
    assert per_account["desk-1"], "the scenario has orders of its account"
    assert per_account["desk-2"] == per_account["desk-1"]


def test_same_name_same_length_same_last_line_still_both_stored(
    store: Store, tmp_path: Path
) -> None:
    """The end-of-file flush (events held for reordering) must not be keyed by the last line
    alone: two files that differ only before a shared last line are two inputs."""
    first = [e.encode() for _k, e in scenario_envelopes("desk-1")]
    second = [e.encode() for _k, e in scenario_envelopes("desk-2")]
    shared = scenario_envelopes("desk-3")[-1][1].encode()
    one = _write(tmp_path / "a" / "events.jsonl", [*first, shared])
    two = _write(tmp_path / "b" / "events.jsonl", [*second, shared])
    replay_file(one, store, TEST_PROCESSING)
    replay_file(two, store, TEST_PROCESSING)
    counts = dict(
        store.query(
            f"SELECT account, count() FROM {store.database}.order_events FINAL "
            "WHERE account IN ('desk-1', 'desk-2') GROUP BY account"
        ).rows
    )
    assert counts.get("desk-1", 0) > 0
    assert counts.get("desk-2") == counts["desk-1"], "the second file's events were dropped"


def test_the_same_file_replayed_twice_is_stored_once(store: Store, tmp_path: Path) -> None:
    lines = [e.encode() for _k, e in scenario_envelopes("desk-1")]
    path = _write(tmp_path / "events.jsonl", lines)
    replay_file(path, store, TEST_PROCESSING)
    rows = store.query(f"SELECT count() FROM {store.database}.order_events").rows[0][0]
    replay_file(path, store, TEST_PROCESSING)
    assert store.query(f"SELECT count() FROM {store.database}.order_events").rows[0][0] == rows
