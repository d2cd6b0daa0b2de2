"""A signed, reconnecting connection to Kalshi's market-data WebSocket and the commands
sent over it (PROTOCOL.md 3-4). The client (trading.kalshi.ws) reads the frames and
decides what they mean; this module keeps the socket up and matches replies to commands.

* Every (re)connection signs a fresh ``GET /trade-api/ws/v2`` (Kalshi refuses an
  unsigned or stale upgrade with 401). Command ids start at 1 on each connection. A
  command's ``Pending`` entry collects its replies (one per channel for a subscribe,
  one per sid for an unsubscribe) and then resolves its future; a connection that
  closes fails every future still waiting with ``ConnectionError``.
* Commands go out through one writer task, so the reader can send one (a resync, a
  resubscribe) without ever waiting for the socket.
* Reconnects back off exponentially with jitter: ``base_delay`` (1 s) doubling to
  ``max_delay`` (60 s); ``max_attempts`` consecutive failed connects (default 10,
  0 = forever) end ``run()`` with ``ConnectionFailed``; a successful connect resets
  the count. Server pings are answered by the websockets library, which also pings
  the server every 20 s and drops a connection whose pong does not come back.
"""

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from trading.kalshi import messages as m
from trading.kalshi.feed_metrics import FeedMetrics
from trading.kalshi.signing import Signer
from trading.kalshi.subscriptions import Subscription

log = logging.getLogger(__name__)

# Kalshi names no frame limit for this API; a full-depth snapshot of a busy market
# is a few hundred KiB, and websockets' 1 MiB default would close the connection on
# a large one. 16 MiB bounds memory while leaving ample room.
MAX_FRAME_BYTES = 16 * 1024 * 1024


class ConnectionFailed(Exception):
    """``max_attempts`` consecutive connection attempts failed."""


@dataclass
class Pending:
    """A command waiting for its replies. ``cmd`` says what it was for (``get_snapshot``,
    ``add_markets``), which the wire's ``update_subscription`` does not; ``future`` is
    None when nobody awaits it (a resync, a resubscribe after a reconnect)."""

    cmd: str
    subscription: Subscription | None
    future: asyncio.Future[Any] | None
    replies_left: int = 1
    result: list[Any] = field(default_factory=list)


class KalshiConnection:
    """Connects, hands every frame to ``on_frame``, reconnects. ``on_open`` runs on each new
    connection once commands can be sent and before ``connected`` is set; ``on_close`` runs
    after each connection ends, before the futures still waiting fail."""

    def __init__(
        self,
        url: str,
        signer: Signer,
        *,
        name: str,
        metrics: FeedMetrics,
        on_open: Callable[[], None],
        on_frame: Callable[[bytes], None],
        on_close: Callable[[], None],
        max_attempts: int,
        base_delay: float,
        max_delay: float,
        open_timeout: float,
        command_timeout: float,
    ) -> None:
        self.url = url
        self.signer = signer
        self.name = name
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.open_timeout = open_timeout
        self.command_timeout = command_timeout
        self.path = urlsplit(url).path or "/"
        self.connected = asyncio.Event()
        self.failures = 0  # consecutive failed connects
        self.pending: dict[int, Pending] = {}

        self._on_open = on_open
        self._on_frame = on_frame
        self._on_close = on_close
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[bytes] | None = None
        self._next_id = 1
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        """Commands can be sent (from ``on_open`` on, a moment before ``connected``)."""
        return self._outbox is not None

    # ---- lifecycle -------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run the connection in a background task (kept here, so it is not garbage collected)."""
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.create_task(self.run(), name=f"{self.name}.run")
        return self._task

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            # gather: the run task's own CancelledError is a result here, while a
            # cancellation of our caller still propagates.
            await asyncio.gather(self._task, return_exceptions=True)

    async def run(self) -> None:
        """Connect, read until closed, reconnect with backoff; returns after ``close()``."""
        self.failures = 0
        first = True
        while not self._closing:
            if not first:
                await asyncio.sleep(self.backoff(self.failures))
            first = False
            try:
                ws = await connect(
                    self.url,
                    additional_headers=self.signer.headers("GET", self.path),
                    open_timeout=self.open_timeout,
                    max_size=MAX_FRAME_BYTES,
                    # Frames are small and many: per-message deflate would cost more CPU
                    # per frame than the JSON parse, and Kalshi makes it optional.
                    compression=None,
                    proxy=None,
                    close_timeout=2,
                )
            except InvalidURI:
                raise
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                self.failures += 1
                self.metrics.failed_connects += 1
                status = f"HTTP {exc.response.status_code}" if isinstance(exc, InvalidStatus) else repr(exc)
                log.warning("%s: connect to %s failed (%s), attempt %d", self.name, self.url, status, self.failures)
                if self.max_attempts and self.failures >= self.max_attempts:
                    raise ConnectionFailed(f"{self.url}: {self.failures} connection attempts failed") from exc
                continue
            self.failures = 0
            self.metrics.connects += 1
            if self.metrics.connects > 1:
                self.metrics.reconnects += 1
            try:
                await self._session(ws)
            except ConnectionClosed as exc:
                if self._closing:
                    log.info("%s: closed", self.name)
                else:
                    log.warning("%s: connection lost (%s)", self.name, exc)
            finally:
                self._disconnected()

    def backoff(self, failures: int) -> float:
        """1 s, 2 s, 4 s ... capped, each jittered to 50-100 % so clients do not reconnect in step."""
        delay = min(self.max_delay, self.base_delay * 2 ** min(failures, 30))
        return delay * random.uniform(0.5, 1.0)

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._next_id = 1
        self._outbox = asyncio.Queue()
        writer = asyncio.create_task(self._write(ws, self._outbox), name=f"{self.name}.writer")
        self._on_open()
        self.connected.set()
        log.info("%s: connected to %s", self.name, self.url)
        on_frame = self._on_frame
        try:
            while True:
                on_frame(await ws.recv(decode=False))
        finally:
            writer.cancel()
            await ws.close()  # a no-op after a drop; closes cleanly when our task is cancelled

    @staticmethod
    async def _write(ws: ClientConnection, outbox: asyncio.Queue[bytes]) -> None:
        while True:
            frame = await outbox.get()
            try:
                await ws.send(frame, text=True)
            except ConnectionClosed:
                return

    def _disconnected(self) -> None:
        self.connected.clear()
        self._ws = None
        self._outbox = None
        self._on_close()
        pending, self.pending = self.pending, {}
        for entry in pending.values():
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(ConnectionError("the Kalshi WebSocket connection closed"))

    # ---- commands --------------------------------------------------------------

    def command(self, cmd: str, params: dict[str, Any] | None, pending: Pending) -> int:
        """Queue a command for the writer; its replies go to ``pending``."""
        if self._outbox is None:
            raise ConnectionError("not connected to Kalshi")
        command_id = self._next_id
        self._next_id += 1
        self.pending[command_id] = pending
        self._outbox.put_nowait(m.command(command_id, cmd, params))
        return command_id

    async def wait(self, future: asyncio.Future[Any]) -> Any:
        """A command's replies, or ``TimeoutError`` after ``command_timeout``."""
        return await asyncio.wait_for(future, self.command_timeout)

    def resolve(self, command_id: int, reply: Any) -> None:
        """Count one reply; the command's future gets every reply once the last one is in."""
        entry = self.pending.get(command_id)
        if entry is None:
            return
        entry.result.append(reply)
        entry.replies_left -= 1
        if entry.replies_left <= 0:
            del self.pending[command_id]
            if entry.future is not None and not entry.future.done():
                entry.future.set_result(entry.result)
