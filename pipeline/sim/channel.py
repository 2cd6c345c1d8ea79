"""One WebSocket connection's outgoing side: a queue drained by a task, through faults.

The engine calls its listeners synchronously, so adapters must never await while rendering:
they `send()` frames into this queue and the task puts them on the wire, applying the
connection's `FaultInjector` (pauses, duplicates, held-back frames, a dropped connection).
Stream frames and request replies share the queue, so a connection's output stays in the
order the venue produced it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

from aiohttp import web

from pipeline.sim.faults import Drop, FaultAction, FaultInjector, Pause, Send

FrameKind = Literal["stream", "reply"]
IDLE_FLUSH_SECONDS = 0.02


class OutboundChannel:
    """Ordered, fault-injected delivery of text frames to one WebSocket."""

    def __init__(self, ws: web.WebSocketResponse, injector: FaultInjector, binary: bool) -> None:
        self.ws = ws
        self.injector = injector
        self.binary = binary
        self.dropped = False
        self.sent = 0
        # (frame, kind) to send; None: close once what is queued before it is sent
        self._queue: asyncio.Queue[tuple[str, FrameKind] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def open(self) -> bool:
        return not self.dropped and not self.ws.closed

    def send(self, frame: str, kind: FrameKind = "stream") -> None:
        """Queue `frame`; never blocks (the engine is mid-operation when this is called)."""
        if self.open:
            self._queue.put_nowait((frame, kind))

    async def close(self) -> None:
        """Deliver what is queued, then close the socket."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._task, timeout=2.0)
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()

    async def drop(self) -> None:
        """Close the connection abruptly, discarding what is queued (a forced disconnect)."""
        self.dropped = True
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()

    async def _run(self) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), IDLE_FLUSH_SECONDS)
            except TimeoutError:
                if not await self._perform(self.injector.flush()):
                    return
                continue
            if item is None:
                await self._perform(self.injector.flush())
                return
            frame, kind = item
            actions = (
                self.injector.reply(frame) if kind == "reply" else self.injector.outgoing(frame)
            )
            if not await self._perform(actions):
                return

    async def _perform(self, actions: list[FaultAction]) -> bool:
        """Carry out `actions`; False once the connection is gone."""
        for action in actions:
            if isinstance(action, Pause):
                await asyncio.sleep(action.seconds)
            elif isinstance(action, Drop):
                self.dropped = True
                with contextlib.suppress(Exception):
                    await self.ws.close()
                return False
            elif isinstance(action, Send):
                if self.ws.closed:
                    return False
                try:
                    if self.binary:
                        await self.ws.send_bytes(action.text.encode())
                    else:
                        await self.ws.send_str(action.text)
                except (ConnectionError, RuntimeError):
                    return False
                self.sent += 1
        return True
