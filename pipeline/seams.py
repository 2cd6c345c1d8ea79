"""Line-oriented seams around the pure core: `pipeline normalize` and `pipeline fold`.

Both read JSON lines and write JSON lines, so the domain can be driven from files and pipes
with no broker: `normalize` turns raw envelopes into canonical events, `fold` turns canonical
events into the final order states and positions, exactly as the stream processor would
(same `TradingBook`). A bad line is reported on stderr as `line N: <reason>: <detail>` and
skipped; the exit code is 1 when any line was rejected, else 0. Blank lines are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

import orjson

from pipeline import venues
from pipeline.codec import (
    event_from_dict,
    event_to_dict,
    loads,
    order_state_to_dict,
    position_to_dict,
)
from pipeline.domain.book import TradingBook
from pipeline.domain.errors import DomainError
from pipeline.envelope import decode_envelope
from pipeline.errors import BadInputError


def _reject(stderr: TextIO, number: int, reason: str, detail: object) -> None:
    stderr.write(f"line {number}: {reason}: {detail}\n")


def normalize_lines(stdin: Iterable[str | bytes], stdout: TextIO, stderr: TextIO) -> int:
    """Raw envelopes in, canonical `OrderEvent` JSON lines out (in input order).

    `stdin` may yield bytes (the CLI reads its binary stream): a line that is not valid UTF-8
    is then rejected on its own instead of stopping the decoder, and the rest is processed.
    A normalizer bug on one line is reported as `normalizer_error` and skipped, like the
    stream processor does, so one hostile line never stops the run.
    """
    rejected = False
    write = stdout.write
    dumps = orjson.dumps
    for number, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            envelope = decode_envelope(line)
            events = venues.normalizer_for(envelope.venue).normalize(envelope)
        except BadInputError as exc:
            _reject(stderr, number, exc.reason, exc)
            rejected = True
            continue
        except Exception as exc:  # a normalizer bug must not stop the rest of the input
            _reject(stderr, number, "normalizer_error", f"{type(exc).__name__}: {exc}")
            rejected = True
            continue
        for event in events:
            write(dumps(event_to_dict(event)).decode())
            write("\n")
    return 1 if rejected else 0


def fold_lines(stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Canonical events in; final orders then positions out, each sorted by key.

    Output lines are `{"type": "order", ...OrderState}` and `{"type": "position", ...Position}`.
    The result does not depend on the order of the input lines.
    """
    book = TradingBook()
    rejected = False
    for number, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            event = event_from_dict(loads(line))
            book.apply(event)
        except BadInputError as exc:
            _reject(stderr, number, exc.reason, exc)
            rejected = True
        except DomainError as exc:
            _reject(stderr, number, "illegal_event", exc)
            rejected = True
    for state in sorted(book.orders(), key=lambda s: s.key):
        stdout.write(orjson.dumps({"type": "order", **order_state_to_dict(state)}).decode())
        stdout.write("\n")
    for position in sorted(book.positions(), key=lambda p: p.key):
        stdout.write(orjson.dumps({"type": "position", **position_to_dict(position)}).decode())
        stdout.write("\n")
    return 1 if rejected else 0
