"""The simulator as most tests want it: its random walk paused and no random whales, so a
test steps it and injects whales itself and every run is exact."""

from typing import Any

from trading.simulator.server import SimConfig, SimulatorServer


def quiet_simulator(markets: int = 3, seed: int = 7, **config: Any) -> SimulatorServer:
    """A simulator to ``async with`` (or start and stop); ``config`` overrides SimConfig fields."""
    return SimulatorServer(
        SimConfig(markets=markets, seed=seed, **{"rate": 0, "paused": True, "whale_rate": 0.0, **config})
    )
