"""The demo login: generated, never in the repo, readable only from the data folder."""

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

DEMO_USERNAME = "demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password_file: Path
    created: bool


def demo_password_file() -> Path:
    return Path(settings.DATA_DIR) / "demo_password"


def _demo_password() -> str:
    path = demo_password_file()
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


@transaction.atomic
def ensure_demo_user() -> DemoUser:
    """A staff superuser named ``demo`` whose password matches the file, so a user
    who reads the file can always log in, even after the file was replaced."""
    password = _demo_password()
    user, created = get_user_model().objects.get_or_create(
        username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
    return DemoUser(username=DEMO_USERNAME, password_file=demo_password_file(), created=created)
