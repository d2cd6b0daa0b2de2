"""Waiting for an outcome that arrives on its own time (a reconnect, a redelivered task,
a process taking over), without assuming how long it takes: poll, and fail naming what
never came. One copy for every test."""

import asyncio
import time
from collections.abc import Callable

# Long enough for a loaded 2-core CI machine; a passing test returns as soon as it holds.
TIMEOUT = 10.0


async def eventually(condition: Callable[[], object], what: str) -> None:
    """Await until ``condition()`` holds, polling every 10 ms on the running loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def wait_for(
    condition: Callable[[], object], timeout: float = 30.0, what: str = "condition", poll: float = 0.05
) -> None:
    """Block until ``condition()`` holds (for tests that watch other processes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
