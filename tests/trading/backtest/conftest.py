# The recording runs a real feed runner: its ORM thread's connection must close as in the feed tests.
from tests.trading.feed.conftest import _close_thread_connection  # noqa: F401
