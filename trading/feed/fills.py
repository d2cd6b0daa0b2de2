"""Our own fills from the WebSocket ``fill`` channel, recorded through the execution
service (``record_fill``, unique on the trade id, so a fill also seen by REST
reconciliation counts once). Recorded off the loop, in arrival order."""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from trading.feed.bus import EventBus, FillReceived
from trading.feed.channel import ChannelFeed
from trading.feed.threads import fresh_connection
from trading.health import ComponentHealth, Criticality
from trading.kalshi import messages as m
from trading.kalshi.parsing import fill_from_ws
from trading.kalshi.ws import KalshiWebSocket

logger = logging.getLogger(__name__)

FILL_CHANNEL = "fill"
# A failed fill record keeps this component unhealthy this long (reconciliation repairs it).
FAILURE_WINDOW = 60.0


@fresh_connection
def _record(body: m.FillBody) -> bool:
    from trading.execution.services import record_fill

    return record_fill(report=fill_from_ws(body))


class FillFeed(ChannelFeed):
    channels = (FILL_CHANNEL,)
    types = (m.UserFill,)

    def __init__(self, client: KalshiWebSocket, *, bus: EventBus) -> None:
        super().__init__(client)
        self.bus = bus
        self.fills = 0
        self.duplicates = 0
        self.failures = 0
        self.last_failure_at = 0.0
        self.last_error = ""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fills")

    async def stop(self) -> None:
        await super().stop()
        self._executor.shutdown(wait=True)

    async def process(self, msg: m.UserFill) -> None:
        try:
            new = await asyncio.get_running_loop().run_in_executor(self._executor, _record, msg.msg)
        except Exception as exc:
            self.failures += 1
            self.last_failure_at = time.monotonic()
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception("fill %s could not be recorded; reconciliation will repair it", msg.msg.trade_id)
            return
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
                "listener_dropped": self.listener_dropped,
            },
        )
