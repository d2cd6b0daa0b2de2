"""The execution loop: one per process, for the async exchange client used from sync code.

The REST client keeps an httpx connection pool bound to the loop that made it, so
every Celery task of a process talks to the exchange through this one loop
(trading.background_loop says why not a loop per call).
"""

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from trading.background_loop import BackgroundLoop

T = TypeVar("T")

# A call to the exchange that has not answered in this long is abandoned here
# (the client's own timeouts are shorter; this only stops a hung loop from
# hanging a worker forever).
DEFAULT_TIMEOUT = 60.0

_background = BackgroundLoop("execution-loop")


def run(coro: Coroutine[Any, Any, T], timeout: float = DEFAULT_TIMEOUT) -> T:
    """Run ``coro`` on the process's execution loop and return its result (or raise its error)."""
    return _background.run(coro, timeout)


def loop_value(name: str, factory: Callable[[], T]) -> T:
    """A per-process object that lives on the execution loop (e.g. the REST client),
    made once by ``factory`` and made again after a fork."""
    return _background.value(name, factory)
