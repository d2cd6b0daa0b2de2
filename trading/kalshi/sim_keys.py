"""The API key pair of ``KALSHI_ENV=sim``: configuration in the data folder (a key
id file, the private key 0600, the public key), made here on first use so the
embedded default runs with nothing set. The trader signs with the private half;
the simulator trusts the public half.
"""

import uuid
from dataclasses import dataclass
from pathlib import Path

from trading.kalshi.signing import generate_key_pair
from trading.private_files import create_private_file

KEY_ID_FILE = "key_id"


@dataclass(frozen=True)
class SimKeys:
    key_id: str
    private_key_path: Path
    public_key_path: Path


def _existing(directory: Path) -> SimKeys | None:
    id_file = directory / KEY_ID_FILE
    if not id_file.exists():
        return None
    key_id = id_file.read_text().strip()
    private, public = directory / f"{key_id}.key", directory / f"{key_id}.pub"
    return SimKeys(key_id, private, public) if private.exists() and public.exists() else None


def ensure_sim_keys(directory: Path) -> SimKeys:
    """The sim key pair in ``directory``, generated on first use.

    The key id file is linked into place only once its key pair is complete, so a
    process that finds it finds the keys; of two processes starting at once, the
    one whose id file lands first wins and the other drops its own pair.
    """
    found = _existing(directory)
    if found is not None:
        return found
    key_id = str(uuid.uuid4())
    private, public = generate_key_pair(directory, key_id)
    id_file = directory / KEY_ID_FILE
    if not create_private_file(id_file, f"{key_id}\n".encode()):
        winner = _existing(directory)
        if winner is not None:
            private.unlink()
            public.unlink()
            return winner
        # An id file naming keys that are gone: a new pair replaces it.
        id_file.unlink()
        if not create_private_file(id_file, f"{key_id}\n".encode()):
            raise FileExistsError(f"{id_file} was recreated by another process while replacing it; start again.")
    return SimKeys(key_id, private, public)
