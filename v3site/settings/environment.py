"""Reading one environment variable, so that a bad value stops start-up with an
``ImproperlyConfigured`` naming the variable rather than a bare ``ValueError``
deep in an import."""

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import environ
from django.core.exceptions import ImproperlyConfigured

from trading import units

env = environ.Env()

# An operator's settings file (``.env`` beside manage.py, or ``V3_ENV_FILE``), the one
# honcho reads for the Procfile: read here too, so a ``manage.py`` command run by hand
# sees the same settings. A variable already in the environment wins over the file.
ENV_FILE = Path(os.environ.get("V3_ENV_FILE", Path(__file__).resolve().parents[2] / ".env"))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE)

T = TypeVar("T")


def _parsed(name: str, default: T, parse: Callable[[str], T]) -> T:
    if name not in env.ENVIRON:
        return default
    text = env.str(name)
    try:
        return parse(text)
    except (ValueError, units.UnitError) as exc:
        raise ImproperlyConfigured(f"{name}={text!r}: {exc}") from None


def integer(name: str, default: int) -> int:
    return _parsed(name, default, int)


def number(name: str, default: float) -> float:
    return _parsed(name, default, float)


def money(name: str, default: str) -> int:
    """Dollars as a decimal string (as on Kalshi's wire), in trading.units' integers."""
    return _parsed(name, units.parse_money(default), units.parse_money)


def price(name: str, default: str) -> int:
    return _parsed(name, units.parse_price(default), units.parse_price)


def count(name: str, default: str) -> int:
    """Contracts as a decimal string, in trading.units' integers."""
    return _parsed(name, units.parse_count(default), units.parse_count)


def choice(name: str, default: str, options: Sequence[str]) -> str:
    value = env.str(name, default=default)
    if value not in options:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(options)}.")
    return value
