"""The demo's simulator on loopback, and the test stack's provider APIs pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from demo.simulator import Simulator
from settings import Settings
from tests.fakes.providers import LoopbackServer


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(status_delays=(0.1, 0.3, 0.6), retry_seconds=0.2)
    async with LoopbackServer(sim.app()) as base_url:
        sim.base_url = base_url
        yield sim
        await sim.aclose()


@pytest.fixture
def settings(settings: Settings, simulator: Simulator) -> Settings:
    """The suite's settings, in demo mode, with the provider APIs the simulator (as `make demo`)."""
    return settings.model_copy(
        update={
            "twilio_api_base": f"{simulator.base_url}/twilio",
            "meta_graph_base": f"{simulator.base_url}/graph",
            "sinch_auth_base": f"{simulator.base_url}/sinch-auth",
            "media_allowed_hosts": (simulator.base_url.removeprefix("http://"),),
            "demo_simulator_url": simulator.base_url,
        }
    )
