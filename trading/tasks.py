"""Celery tasks: thin adapters that load ids, call a service and return.

``process_whale`` is retried only when the exchange could not be reached while
placing an order: the retry resends the same client order id, so it can never
make a second order. acks_late (settings) means a task whose worker died is
delivered again; the service is idempotent per whale, so that is safe.
"""

from celery import shared_task
from celery.signals import worker_ready

from trading.execution import reconciliation, services
from trading.execution.gateway import ExchangeError


@shared_task(autoretry_for=(ExchangeError,), retry_backoff=1, retry_backoff_max=15, max_retries=5)
def process_whale(whale_id: int) -> int | None:
    decision = services.process_whale(whale_id=whale_id)
    return decision.pk if decision is not None else None


@shared_task
def reconcile() -> int:
    report = reconciliation.reconcile()
    return len(report.changes)


@worker_ready.connect
def reconcile_at_startup(**_kwargs: object) -> None:
    """A worker that starts (maybe after a crash) first brings local records in line with the exchange."""
    reconcile.delay()
