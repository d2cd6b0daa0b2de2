"""Stopping tasks reliably.

asgiref's ``sync_to_async`` swallows a cancellation that arrives while its
thread is running (it waits for the thread and returns its result), so a task
cancelled during an ORM call carries on as if nothing happened, and a plain
``task.cancel(); await task`` can wait forever on a loop that never ends. So
cancel again until the task really is done."""

import asyncio
import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)

# A task in a sync_to_async call gets its cancellation at the next await after
# the call returns; ORM calls take milliseconds, so a few rounds are plenty.
CANCEL_ROUNDS = 20
ROUND_WAIT = 0.25


async def cancel_and_wait(tasks: Iterable[asyncio.Task]) -> None:
    pending = {task for task in tasks if not task.done()}
    for _ in range(CANCEL_ROUNDS):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=ROUND_WAIT)
    for task in pending:
        logger.error("task %s did not stop after %d cancellations", task.get_name(), CANCEL_ROUNDS)
