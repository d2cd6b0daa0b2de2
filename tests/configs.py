"""Changing one value of a typed settings config in a test, as pytest-django's
``settings`` fixture changes a flat setting (and undoes it after the test)."""

from dataclasses import is_dataclass, replace
from typing import Any


def configure(settings: Any, area: str, **changes: Any) -> None:
    """``configure(settings, "EXECUTION", decision_ttl=0, rules={"cooldown": 0})``: a dict
    changes the fields of a nested config (``EXECUTION.rules``, ``EXECUTION.limits``)."""
    config = getattr(settings, area)
    for name, value in changes.items():
        current = getattr(config, name)
        if isinstance(value, dict) and is_dataclass(current):
            changes[name] = replace(current, **value)
    setattr(settings, area, replace(config, **changes))
