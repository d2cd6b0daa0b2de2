"""ORM work on the feed's own threads (whales, fills, the embedded reconciliation)."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import close_old_connections

P = ParamSpec("P")
T = TypeVar("T")


def fresh_connection(func: Callable[P, T]) -> Callable[P, T]:
    """Django drops stale or broken connections only between requests; a long-running
    process's thread has no requests, so each call does it before and after itself
    (else one database restart breaks every later whale or fill)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return wrapper
