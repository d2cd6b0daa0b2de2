"""What a browser sends on ``/ws/events/`` and how it is read, apart from the socket
(dashboard.consumers): its frames as commands, the command budget, and the
``last_event_id`` it resumes from. Plain Python, tested without a socket."""

import time
from typing import Any
from urllib.parse import parse_qs

import orjson

# A command is a few dozen bytes; anything far larger is a mistake or abuse.
MAX_COMMAND_CHARS = 2_000
# Event ids are Postgres bigints; a larger last_event_id names no event (and 5,000
# digits made int() raise and crash the handshake).
MAX_EVENT_ID = 2**63 - 1


class TokenBucket:
    """``burst`` commands at once, refilled at ``rate`` a second."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst = burst
        self.rate = rate
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class CommandError(Exception):
    """A browser command that cannot be carried out; ``code`` goes to the browser."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def last_event_id(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get("last_event_id")
    if not values:
        return None
    text = values[0]
    # Length first: int() of thousands of digits raises (and is slow) before any range check.
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_EVENT_ID))) or int(text) > MAX_EVENT_ID:
        raise CommandError("bad_last_event_id", f"last_event_id must be an integer from 0 to {MAX_EVENT_ID}")
    return int(text)


def parse_command(text_data: str | None) -> dict[str, Any]:
    """A browser's frame as a command object, or CommandError("malformed", why)."""
    if text_data is None:
        raise CommandError("malformed", "commands are JSON text frames, not binary")
    if len(text_data) > MAX_COMMAND_CHARS:
        raise CommandError("malformed", f"command longer than {MAX_COMMAND_CHARS} characters")
    try:
        command = orjson.loads(text_data)
    except orjson.JSONDecodeError as exc:
        raise CommandError("malformed", "command is not valid JSON") from exc
    if not isinstance(command, dict) or not isinstance(command.get("type"), str):
        raise CommandError("malformed", 'a command is a JSON object with a string "type"')
    if not isinstance(command.get("ref"), int | str | None):
        raise CommandError("malformed", '"ref" must be a string or an integer')
    return command
