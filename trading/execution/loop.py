"""One event loop per process for the async exchange client, used from sync code.

Why not ``asyncio.run`` per call: the REST client keeps an httpx connection pool
bound to the loop that created it. A fresh loop per Celery task would build and
tear down a client (TLS handshakes, sockets) for every whale, and objects made on
a closed loop fail with "Event loop is closed" (the channels_redis pitfall in
DESIGN.md, the same mechanism). Instead one daemon thread per process runs one
loop for the life of the process; sync callers submit coroutines to it and wait.
This works from any thread, including one whose own loop is running (the
embedded default runs tasks eagerly inside other threads), and survives the
Celery prefork fork: the loop is keyed by pid, so a child starts its own.
"""

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# A call to the exchange that has not answered in this long is abandoned here
# (the client's own timeouts are shorter; this only stops a hung loop from
# hanging a worker forever).
DEFAULT_TIMEOUT = 60.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid = 0
_values: dict[str, Any] = {}


def _ensure() -> asyncio.AbstractEventLoop:
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            _pid = os.getpid()
            _values.clear()
            threading.Thread(target=_loop.run_forever, name="execution-loop", daemon=True).start()
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float = DEFAULT_TIMEOUT) -> T:
    """Run ``coro`` on the process's execution loop and return its result (or raise its error)."""
    return asyncio.run_coroutine_threadsafe(coro, _ensure()).result(timeout)


def loop_value(name: str, factory: Callable[[], T]) -> T:
    """A per-process object that lives on the execution loop (e.g. the REST client),
    made once by ``factory`` and made again after a fork."""
    _ensure()
    with _lock:
        if name not in _values:
            _values[name] = factory()
        return _values[name]
