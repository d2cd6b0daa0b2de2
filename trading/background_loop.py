"""One event loop per process on a daemon thread, for sync code that must reach async objects.

Why not ``asyncio.run`` per call: async clients (the REST client's httpx pool, the
channel layer's Redis connections) stay bound to the loop that made them. A fresh
loop per call builds and tears them down every time, and objects made on a closed
loop fail with "Event loop is closed" (channels_redis issues 125 and 332, the
pitfall in docs/architecture.md, "Message types to the browser"). Instead one daemon
thread per process runs one loop for the life of the process. It works from any
thread, including one whose own loop is running (the embedded default runs tasks
eagerly inside other threads), and survives the Celery prefork fork: the loop is
keyed by pid, so a child starts its own (the parent's thread does not exist there).
"""

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """A named loop, started on first use in each process, with per-loop objects."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._values: dict[str, Any] = {}

    def loop(self) -> asyncio.AbstractEventLoop:
        """This process's running loop, started now if there is none yet (or it was inherited by a fork)."""
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._values.clear()
                threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True).start()
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and return its result (or raise its error); not from the loop itself."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop()).result(timeout)

    def value(self, name: str, factory: Callable[[], T]) -> T:
        """A per-process object that lives on the loop (e.g. a client), made once by
        ``factory`` and made again with the loop after a fork."""
        self.loop()
        with self._lock:
            if name not in self._values:
                self._values[name] = factory()
            return self._values[name]
