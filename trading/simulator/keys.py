"""The simulator's API key pair for ``KALSHI_ENV=sim``: made once in the data
folder, where both the simulator (public half) and the trader (private half) find it."""

import uuid
from dataclasses import dataclass
from pathlib import Path

from trading.kalshi.signing import generate_key_pair

KEY_ID_FILE = "key_id"


@dataclass(frozen=True)
class SimKeys:
    key_id: str
    private_key_path: Path
    public_key_path: Path


def ensure_sim_keys(directory: Path) -> SimKeys:
    """Return the simulator's keys in ``directory``, generating them on first use."""
    id_file = directory / KEY_ID_FILE
    if id_file.exists():
        key_id = id_file.read_text().strip()
        private, public = directory / f"{key_id}.key", directory / f"{key_id}.pub"
        if private.exists() and public.exists():
            return SimKeys(key_id, private, public)
    key_id = str(uuid.uuid4())
    private, public = generate_key_pair(directory, key_id)
    id_file.write_text(key_id + "\n")
    return SimKeys(key_id, private, public)
