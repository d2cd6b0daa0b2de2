"""Secrets the system makes for itself are private from the moment they exist:
created 0600 by ``os.open`` (never chmod-ed after writing), in a 0700 folder."""

import os
import stat
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from trading.accounts import ensure_demo_user
from trading.kalshi.signing import generate_key_pair
from trading.private_files import create_private_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask(monkeypatch):
    """Umask 0 (what umask would not protect) and no chmod: only the creation mode counts."""

    def refuse(*args, **kwargs):
        raise AssertionError("chmod after creation: the file was readable until then")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(Path, "chmod", refuse)
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_private_file_is_created_0600_and_never_replaced(tmp_path, open_umask):
    path = tmp_path / "secret"
    assert create_private_file(path, b"first") is True
    assert create_private_file(path, b"second") is False
    assert path.read_bytes() == b"first"
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret"], "no temporary file left behind"


def test_simulator_key_is_private(tmp_path, open_umask):
    private, public = generate_key_pair(tmp_path / "sim", "key-1")
    assert mode(tmp_path / "sim") == 0o700
    assert mode(private) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()


@pytest.mark.django_db
def test_demo_user_is_created_once_and_keeps_a_changed_password(settings, tmp_path, open_umask):
    settings.DATA_DIR = tmp_path
    first = ensure_demo_user()
    password_file = tmp_path / "demo_password"
    assert first.created and mode(password_file) == 0o600
    password = password_file.read_text().strip()
    assert len(password) >= 12
    user = get_user_model().objects.get(username="demo")
    assert user.check_password(password) and user.is_staff

    user.set_password("the owner's own passphrase")
    user.save()
    again = ensure_demo_user()

    assert not again.created
    user.refresh_from_db()
    assert user.check_password("the owner's own passphrase")
    assert not user.check_password(password)
