"""Group-less consumers used to read a partition once (recovery, checkpoint topics)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer


async def stop_reader(reader: AIOKafkaConsumer) -> None:
    """Stop a group-less consumer. aiokafka 0.14 raises `CancelledError` from `stop()` when
    the consumer never fetched (its reset-committed task is cancelled before it ran); that
    is not a cancellation of ours, so it is swallowed unless our task is being cancelled."""
    try:
        await reader.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
