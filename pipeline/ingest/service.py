"""The ingest role: every configured ingestor plus the shared publisher, until `stop`.

    stats = IngestStats()
    await run_ingestors(load_ingest_config(path), bootstrap, stop, stats)

One `RawPublisher` (one Kafka producer, one bounded queue) serves all ingestors of the
process. On `stop` the ingestors close their connections first, then the publisher flushes
what is queued (giving up after `drain_timeout` seconds if Kafka is unreachable, counting
the messages lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from pipeline.errors import ConfigError
from pipeline.ingest.base import Ingestor
from pipeline.ingest.config import AccountConfig, IngestConfig
from pipeline.ingest.publisher import RawPublisher
from pipeline.ingest.spool import RawSpool
from pipeline.ingest.stats import IngestStats
from pipeline.venues import registry

log = logging.getLogger(__name__)

INGESTORS: dict[str, type[Ingestor]] = {
    venue: registry.ingestor_class(venue) for venue in registry.VENUES
}
"""Each venue's ingestor class, as the venue registry names it."""


def build_ingestor(
    config: AccountConfig,
    publisher: RawPublisher,
    stats: IngestStats,
    resume_from: int | None = None,
    live_orders: Mapping[str, str] | None = None,
) -> Ingestor:
    """The ingestor of `config.venue`; `ConfigError` for a venue without one (yet)."""
    kind = INGESTORS.get(config.venue)
    if kind is None:
        raise ConfigError(
            "ingestors.venue", config.venue, f"no ingestor yet; available: {', '.join(INGESTORS)}"
        )
    return kind(config, publisher, stats, resume_from=resume_from, live_orders=live_orders)


async def run_ingestors(
    config: IngestConfig,
    bootstrap: str,
    stop: asyncio.Event,
    stats: IngestStats | None = None,
    drain_timeout: float = 8.0,
    resume_from: Mapping[str, int] | None = None,
    live_orders: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    spool: RawSpool | None = None,
) -> None:
    """Run every ingestor of `config`, publishing to the Kafka cluster at `bootstrap`.

    `resume_from`: venue -> epoch ms from which what was published earlier may be lost
    (pipeline/streams/checkpoint.py `covered_until`); those venues' ingestors recover the
    venue's history from there on their first connect. `live_orders`: (venue, account) ->
    {order id: venue symbol} believed live at that time; each one no longer open is asked
    about (its end may be in what was lost). `spool`: every envelope published is also
    appended there (the embedded stack: spool.py).
    """
    stats = IngestStats() if stats is None else stats
    publisher = RawPublisher(bootstrap, stats, queue_size=config.queue_size, spool=spool)
    resume = resume_from or {}
    ingestors = [
        build_ingestor(
            account,
            publisher,
            stats,
            resume.get(account.venue),
            (live_orders or {}).get((account.venue, account.account)),
        )
        for account in config.accounts
    ]
    log.info("ingesting %s", ", ".join(repr(i) for i in ingestors))
    sender = asyncio.create_task(publisher.run(), name="ingest-publisher")
    tasks = [asyncio.create_task(i.run(stop), name=f"ingest {i.config.name}") for i in ingestors]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([stopper, sender, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        stopper.cancel()
        for task in tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=5)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not sender.done():
            await publisher.close()
            try:
                await asyncio.wait_for(asyncio.shield(sender), timeout=drain_timeout)
            except TimeoutError:
                publisher.abandon()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(sender), timeout=2)
                sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        log.debug("ingest stopped: %s", stats.summary())  # the run prints it, once
