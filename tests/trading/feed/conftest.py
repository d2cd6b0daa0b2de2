import pytest
from asgiref.sync import sync_to_async
from django.db import connection


def _close_connection() -> None:
    connection.close()


@pytest.fixture(autouse=True)
async def _close_thread_connection():
    """ORM calls from async code run on asgiref's shared thread; close its connection so
    the test database can be dropped at the end of the run."""
    yield
    await sync_to_async(_close_connection)()


@pytest.fixture
def handed(monkeypatch):
    """Whale ids handed to execution (the Celery task's ``delay``)."""
    from trading import tasks

    ids: list[int] = []
    monkeypatch.setattr(tasks.process_whale, "delay", ids.append)
    return ids
