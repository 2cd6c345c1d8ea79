"""Fixtures for the simulator on loopback: a started `Simulator` (no background flow) and an
HTTP client session. Tests drive the flow by hand (`sim.step`) so that runs are quick."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from pipeline.sim.server import SimConfig, Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(SimConfig(seed=7, rate=0, record=True))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
