"""Range checks of command options, so a bad value is one clear line (``CommandError``)
at start-up instead of a traceback from deep inside a server."""

from django.core.management.base import CommandError

# TCP port numbers; 0 asks the system for a free one.
MAX_PORT = 65_535


def check_range(option: str, value: float, *, low: float, high: float | None = None) -> None:
    """Refuse ``value`` of ``option`` outside [low, high] (no upper bound without ``high``)."""
    if value < low or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise CommandError(f"{option} must be {bounds} (got {value:g}).")


def check_port(option: str, value: int, *, allow_any: bool = False) -> None:
    """A TCP port; 0 (any free port) only where the command prints the port it got."""
    check_range(option, value, low=0 if allow_any else 1, high=MAX_PORT)
