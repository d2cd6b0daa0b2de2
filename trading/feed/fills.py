"""Our own fills from the WebSocket ``fill`` channel, recorded through the execution
service (``record_fill``, unique on the trade id, so a fill also seen by REST
reconciliation counts once). Recorded off the loop, in arrival order."""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections

from trading.feed.bus import EventBus, FillReceived
from trading.health import ComponentHealth, Criticality
from trading.kalshi import messages as m
from trading.kalshi.ws import KalshiWebSocket, Subscription

logger = logging.getLogger(__name__)

FILL_CHANNEL = "fill"
# A failed fill record keeps this component unhealthy this long (reconciliation repairs it).
FAILURE_WINDOW = 60.0


def _record(body: m.FillBody) -> bool:
    from trading.execution.services import fill_from_ws, record_fill

    close_old_connections()
    try:
        return record_fill(fill_from_ws(body))
    finally:
        close_old_connections()


class FillFeed:
    def __init__(self, client: KalshiWebSocket, *, bus: EventBus) -> None:
        self.client = client
        self.bus = bus
        self.fills = 0
        self.duplicates = 0
        self.failures = 0
        self.last_failure_at = 0.0
        self.last_error = ""
        self._listener = client.listen(m.Fill)
        self._subscription: Subscription | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fills")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._read(), name="fill-feed")
        self._subscription = await self.client.subscribe([FILL_CHANNEL])

    async def stop(self) -> None:
        if self._subscription is not None and self.client.connected.is_set():
            try:
                await self.client.unsubscribe(self._subscription)
            except (ConnectionError, TimeoutError) as exc:
                logger.warning("fill unsubscribe failed: %s", exc)
        self._subscription = None
        self.client.unlisten(self._listener)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            msg: m.Fill = await self._listener.get()
            try:
                new = await loop.run_in_executor(self._executor, _record, msg.msg)
            except Exception as exc:
                self.failures += 1
                self.last_failure_at = time.monotonic()
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.exception("fill %s could not be recorded; reconciliation will repair it", msg.msg.trade_id)
                continue
            if new:
                self.fills += 1
                await self.bus.publish(FillReceived(msg.msg.trade_id, msg.msg.order_id, msg.msg.market_ticker))
            else:
                self.duplicates += 1

    def health(self) -> ComponentHealth:
        failing = self.failures > 0 and time.monotonic() - self.last_failure_at < FAILURE_WINDOW
        return ComponentHealth(
            "fills",
            not failing,
            Criticality.NON_CRITICAL,
            self.last_error if failing else "",
            {
                "fills": self.fills,
                "duplicates": self.duplicates,
                "failures": self.failures,
                "listener_dropped": self._listener.dropped,
            },
        )
