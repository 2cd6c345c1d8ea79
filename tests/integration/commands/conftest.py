"""Fixtures of the cancel-command integration tests (see `cancel_rig`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from cancel_rig import ACCOUNTS, KEY, VENUES, Rig, venue_accounts
from cancel_simstate import SimStateFeed

from pipeline.commands.auth import Authenticator, Grant, KeyRing, key_env_name
from pipeline.commands.clients import make_client
from pipeline.commands.executor import CancelExecutor
from pipeline.commands.state_view import StateView
from pipeline.sim.server import SimConfig, Simulator


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sim = Simulator(
        SimConfig(seed=11, rate=0, venues=VENUES, accounts=ACCOUNTS, house=False, control_port=None)
    )
    await sim.start(flow=False)
    view = StateView()
    feed = SimStateFeed(sim, view.apply)
    feed.start()
    published: list = []

    async def publish(result):
        published.append(result)

    async with aiohttp.ClientSession() as http:
        clients = {(a.venue, a.account): make_client(a, http=http) for a in venue_accounts(sim)}
        auth = Authenticator(KeyRing(env={key_env_name("ops"): KEY}), [Grant("ops")])
        executor = CancelExecutor(view, clients, auth, confirm_timeout_s=5, publish=publish)
        try:
            yield Rig(sim, view, feed, executor, published)
        finally:
            for client in clients.values():
                await client.close()
            await feed.stop()
            await sim.stop()
