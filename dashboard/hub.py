"""One channel-layer subscription per process and group, fanned out in-process.

The stock Channels path gives every browser its own channel: each broadcast is
queued, decoded (msgpack) and dispatched once per browser, through a task and an
``asyncio.wait`` per message. With hundreds of browsers in one daphne that
per-browser overhead, not the network, sets the latency (bench/README.md,
docs/architecture.md on channels_redis fan-out). So a process joins each group once, with
one channel of its own, decodes each message once, and hands it to the local
members' outboxes with a plain function call: the known way out docs/architecture.md names
("one message per process fanned out inside the process").

A hub belongs to one event loop (channel layers do too); ``hub_for`` finds it.

A process with a hub also collects garbage less often (``relax_gc``): with
hundreds of browsers, what each broadcast leaves per browser until it is sent
outlives Python's default young generation (700 allocations), is promoted, and a
full collection over every connection's objects follows every few seconds: 100-150
ms in which no browser receives anything. At 500 browsers x 10 broadcasts/s that
made p99 166-218 ms instead of 66-71 ms (bench/README.md, fanout).
"""

import asyncio
import gc
import logging
import weakref
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# After a failed receive (Redis restarting, say), wait this long before the next try.
RETRY_DELAY = 1.0
# Allocations between young-generation collections in a fan-out process (Python's default: 700).
GC_YOUNG_THRESHOLD = 50_000


class Member(Protocol):
    def on_group_message(self, message: dict[str, Any]) -> None: ...


class GroupHub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.members: dict[str, set[Member]] = {}
        self.channels: dict[str, str] = {}
        self.pumps: dict[str, asyncio.Task] = {}
        self.lock = asyncio.Lock()
        self.delivered = 0

    async def join(self, group: str, member: Member) -> None:
        """Add ``member``; the first local member subscribes the process to ``group``."""
        async with self.lock:
            members = self.members.setdefault(group, set())
            members.add(member)
            if group not in self.channels:
                channel = await self.layer.new_channel("hub.")
                await self.layer.group_add(group, channel)
                self.channels[group] = channel
                self.pumps[group] = asyncio.create_task(self.pump(group, channel), name=f"hub-{group}")

    async def leave(self, group: str, member: Member) -> None:
        """Remove ``member``; the last one out unsubscribes the process from ``group``."""
        async with self.lock:
            members = self.members.get(group)
            if members is None or member not in members:
                return
            members.discard(member)
            if members:
                return
            del self.members[group]
            channel = self.channels.pop(group)
            self.pumps.pop(group).cancel()
            await self.layer.group_discard(group, channel)

    async def pump(self, group: str, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the layer's trouble must not end the fan-out for good
                logger.exception("hub: receiving %s failed; retrying", group)
                await asyncio.sleep(RETRY_DELAY)
                continue
            self.deliver(group, message)

    def deliver(self, group: str, message: dict[str, Any]) -> None:
        """Hand ``message`` to this process's members of ``group`` (also for what only this process says)."""
        for member in list(self.members.get(group, ())):
            try:
                member.on_group_message(message)
            except Exception:  # one member's bug must not starve the others
                logger.exception("hub: delivering to a member of %s failed", group)
        self.delivered += 1


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupHub]" = weakref.WeakKeyDictionary()


def hub_for(layer: Any) -> GroupHub:
    """This event loop's hub on ``layer``."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = GroupHub(layer)
        relax_gc()
    return hub


def relax_gc() -> None:
    """Raise this process's young-generation GC threshold to GC_YOUNG_THRESHOLD (never lower it)."""
    young, *older = gc.get_threshold()
    if young < GC_YOUNG_THRESHOLD:
        gc.set_threshold(GC_YOUNG_THRESHOLD, *older)
