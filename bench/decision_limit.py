"""The limit row of bench/decisions.py: Celery tasks that do only what a followed whale
needs, on the same pools, broker and database as the real tasks.

* ``limit_decide`` (queue ``celery``): one signed REST read of the whale's book, then one
  transaction that locks the risk account's row and inserts the decision and its
  pending order; after commit, ``limit_place``.
* ``limit_place`` (queue ``orders``): one signed REST POST of the order, then one
  update of its row with the exchange's answer.

Both go through the project's own Kalshi adapter and execution loop (signing, HTTP
client, parsing), so what the real tasks cost above these is the decision's rules,
its risk reads, its events and its bookkeeping. Workers load this module with
``celery worker --include bench.decision_limit``.
"""

import time

from celery import shared_task
from django.db import transaction

from trading.exchange import PlaceRequest
from trading.execution import loop, risk
from trading.execution.gateway import gateway
from trading.models import Order, WhaleDecision, WhaleTrade


@shared_task(name="bench.limit_decide")
def limit_decide(whale_id: int) -> int:
    started = time.time()
    whale = WhaleTrade.objects.get(pk=whale_id)
    book = loop.run(gateway().book(whale.market_ticker))
    with transaction.atomic():
        risk.lock_account()
        decision = WhaleDecision.objects.create(
            whale=whale,
            decision=WhaleDecision.Decision.FOLLOW,
            reason_code="limit",
            reason_text="bench limit row",
            inputs={"book_as_of": book.as_of},
            mode=WhaleDecision.Mode.PAPER,
            started_at=started,
            decided_at=time.time(),
        )
        order = Order.objects.create(
            decision=decision,
            client_order_id=f"limit-{decision.pk}",
            market_ticker=whale.market_ticker,
            side="bid",
            price=whale.yes_price,
            count=100,
            mode=WhaleDecision.Mode.PAPER,
        )
        transaction.on_commit(lambda: limit_place.apply_async((order.pk,), queue="orders"))
    return decision.pk


@shared_task(name="bench.limit_place")
def limit_place(order_id: int) -> str:
    order = Order.objects.get(pk=order_id)
    request = PlaceRequest(
        ticker=order.market_ticker,
        side=order.side,
        price=order.price,
        count=order.count,
        client_order_id=order.client_order_id,
        time_in_force=order.time_in_force,
    )
    placed = loop.run(gateway().place(request))
    Order.objects.filter(pk=order_id).update(
        exchange_order_id=placed.exchange_order_id, filled_count=placed.fill_count, status=Order.Status.EXECUTED
    )
    return placed.exchange_order_id
