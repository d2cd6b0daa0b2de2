"""The per-process background loop: one loop and one of each loop-bound object per
process, and a fresh pair in a forked child (Celery prefork), where the parent's
thread does not exist."""

import asyncio
import os
import threading

from trading.background_loop import BackgroundLoop


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_calls_from_any_thread_share_one_loop_on_its_own_thread():
    background = BackgroundLoop("test-loop")
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(background.run(_running_loop(), 5))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1
    assert seen[0] is background.loop()
    assert seen[0].is_running()


def test_loop_value_is_made_once_per_process():
    background = BackgroundLoop("test-loop")
    made = []
    first = background.value("client", lambda: made.append(1) or object())
    assert background.value("client", lambda: made.append(1) or object()) is first
    assert made == [1]


def test_forked_child_gets_a_working_loop_and_fresh_values():
    background = BackgroundLoop("test-loop")
    parent_loop = background.loop()
    parent_value = background.value("client", object)
    pid = os.fork()
    if pid == 0:  # the child: the parent's loop thread is not here
        try:
            loop = background.run(_running_loop(), 5)
            fresh = background.value("client", object) is not parent_value
            os._exit(0 if loop is not parent_loop and fresh else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert background.loop() is parent_loop
