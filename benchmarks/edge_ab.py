"""CPU time per raw record of each hot-path stage, for A/B runs on a shared host.

Wall-clock figures swing by 2x when other sessions run their suites on this machine; CPU time
(`time.process_time`, best of N) moves far less. Run it from the root of the tree to measure
(for another tree: `PYTHONPATH=<tree> <venv>/bin/python <tree>/benchmarks/edge_ab.py`):

    .venv/bin/python benchmarks/edge_ab.py [--orders 30000] [--reps 7]

Prints µs per raw record for decode, normalize (per venue; with `check_events` apart where the
tree has it) and fold, over `flows.synthetic_flow` (the `make bench` flow).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from flows import synthetic_flow

from pipeline.domain.book import TradingBook
from pipeline.envelope import decode_envelope
from pipeline.venues import base, normalizer_for


def cpu_us(fn: Callable[[], object], count: int, reps: int) -> float:
    """Best CPU time of `reps` runs of `fn`, in µs per item of `count`, GC off while timed."""
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        gc.disable()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
        gc.enable()
    return best * 1e6 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    flow = synthetic_flow(args.orders)
    raw = [envelope.encode() for _key, envelope in flow]
    envelopes = [decode_envelope(item) for item in raw]
    took = cpu_us(lambda: [decode_envelope(r) for r in raw], len(raw), args.reps)
    print(f"decode              {took:.2f} us")
    for venue in ("upbit", "binance"):
        mine = [e for e in envelopes if e.venue == venue]
        normalizer = normalizer_for(venue)
        took = cpu_us(
            lambda n=normalizer, m=mine: [n.normalize(e) for e in m], len(mine), args.reps
        )
        print(f"normalize {venue:8s}  {took:.2f} us")
        check = getattr(base, "check_events", None)
        translate = getattr(normalizer, "translate", None)
        if check is not None and translate is not None:
            plain = [x for e in mine for x in translate(e)]
            took = cpu_us(
                lambda c=check, v=venue, p=plain: [c(v, [x]) for x in p], len(mine), args.reps
            )
            print(f"  check_events      {took:.2f} us")
    events = [x for e in envelopes for x in normalizer_for(e.venue).normalize(e)]  # flow order

    def fold() -> None:
        book = TradingBook()
        for event in events:
            book.apply(event)

    print(f"fold                {cpu_us(fold, len(raw), args.reps):.2f} us")


if __name__ == "__main__":
    main()
