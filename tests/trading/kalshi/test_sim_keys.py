"""The sim environment's key pair: made once in the data folder, private half 0600,
and the same pair for every process that asks."""

import stat
from pathlib import Path

import pytest

from trading.kalshi import sim_keys
from trading.kalshi.signing import Signer, load_public_key, verify
from trading.kalshi.sim_keys import KEY_ID_FILE, ensure_sim_keys


def test_made_once_and_found_after(tmp_path: Path) -> None:
    first = ensure_sim_keys(tmp_path / "sim")
    assert ensure_sim_keys(tmp_path / "sim") == first
    assert (tmp_path / "sim" / KEY_ID_FILE).read_text().strip() == first.key_id
    assert stat.S_IMODE(first.private_key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "sim").stat().st_mode) == 0o700
    headers = Signer.from_files(first.key_id, str(first.private_key_path)).headers("GET", "/p", timestamp_ms=1)
    public = load_public_key(first.public_key_path)
    assert verify(public, "1", "GET", "/p", headers["KALSHI-ACCESS-SIGNATURE"])


def test_an_id_naming_missing_keys_gets_a_new_pair(tmp_path: Path) -> None:
    tmp_path.joinpath(KEY_ID_FILE).write_text("gone\n")
    keys = ensure_sim_keys(tmp_path)
    assert keys.key_id != "gone" and keys.private_key_path.exists()
    assert ensure_sim_keys(tmp_path) == keys


def test_a_process_that_loses_the_race_uses_the_winners_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_generate = sim_keys.generate_key_pair
    winner: list[sim_keys.SimKeys] = []

    def rival_finishes_first(directory: Path, key_id: str) -> tuple[Path, Path]:
        # Another process runs the whole of ensure_sim_keys while this one makes its pair.
        monkeypatch.setattr(sim_keys, "generate_key_pair", real_generate)
        winner.append(ensure_sim_keys(directory))
        return real_generate(directory, key_id)

    monkeypatch.setattr(sim_keys, "generate_key_pair", rival_finishes_first)
    assert ensure_sim_keys(tmp_path) == winner[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [KEY_ID_FILE, f"{winner[0].key_id}.key", f"{winner[0].key_id}.pub"]
    )
