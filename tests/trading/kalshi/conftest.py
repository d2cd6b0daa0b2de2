"""A real simulator on an ephemeral port, with a key pair made for the test run."""

import json
from pathlib import Path

import pytest

from trading.kalshi.signing import Signer, generate_key_pair
from trading.simulator.server import SimConfig, SimulatorServer

KEY_ID = "5f0c9a8e-test-key"
# Kalshi's recorded wire formats, kept in the repository (docs/kalshi/examples).
EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "kalshi" / "examples"


def examples(name: str) -> list[dict]:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture(scope="session")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_key_pair(tmp_path_factory.mktemp("kalshi-keys"), KEY_ID)


@pytest.fixture(scope="session")
def signer(key_files: tuple[Path, Path]) -> Signer:
    return Signer.from_files(KEY_ID, str(key_files[0]))


@pytest.fixture
async def sim(key_files: tuple[Path, Path]):
    """The simulator with its random walk paused: tests drive it with ``step()``, so runs are exact."""
    server = SimulatorServer(SimConfig(markets=4, seed=7, key_id=KEY_ID, public_key_path=key_files[1], paused=True))
    await server.start()
    yield server
    await server.stop()
