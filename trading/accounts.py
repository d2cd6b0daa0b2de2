"""The demo login: generated, never in the repo, readable only from the data folder."""

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from trading.private_files import create_private_file

DEMO_USERNAME = "demo"
# 16 random bytes: a 22-character password, over the 12-character minimum and
# beyond guessing even without the login throttle.
DEMO_PASSWORD_BYTES = 16


@dataclass(frozen=True)
class DemoUser:
    username: str
    password_file: Path
    created: bool


def demo_password_file() -> Path:
    return Path(settings.DATA_DIR) / "demo_password"


def _demo_password() -> str:
    path = demo_password_file()
    create_private_file(path, (secrets.token_urlsafe(DEMO_PASSWORD_BYTES) + "\n").encode())
    return path.read_text().strip()


@transaction.atomic
def ensure_demo_user() -> DemoUser:
    """A staff superuser named ``demo``, created once with the password in the file.
    An existing user is left alone: ``make run`` runs this on every start, and must
    never undo a password its owner changed."""
    User = get_user_model()
    if User.objects.filter(username=DEMO_USERNAME).exists():
        return DemoUser(username=DEMO_USERNAME, password_file=demo_password_file(), created=False)
    User.objects.create_user(DEMO_USERNAME, password=_demo_password(), is_staff=True, is_superuser=True)
    return DemoUser(username=DEMO_USERNAME, password_file=demo_password_file(), created=True)
