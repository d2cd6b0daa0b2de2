"""Component health: each component owns a ``health()`` that returns a
``ComponentHealth``; the monitor only aggregates (docs/architecture.md)."""

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Criticality(StrEnum):
    """A critical component down puts the trader in ``error``; a non-critical one, ``degraded``."""

    CRITICAL = "critical"
    NON_CRITICAL = "non_critical"


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    name: str
    healthy: bool
    criticality: Criticality
    detail: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
