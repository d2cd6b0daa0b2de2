"""Paper trading on demo/prod (trading.execution.gateway): follows filled against
the exchange's book, read over REST, without any order reaching the exchange.
"""

import time

from trading.exchange import ExchangeOrder, ExchangePosition, FillReport, Placed, PlaceRequest, SettlementReport
from trading.kalshi.execution import MarketData
from trading.kalshi.fees import trade_fee
from trading.units import ONE_DOLLAR


class PaperBookGateway(MarketData):
    """Paper trading on demo/prod: no order ever reaches the exchange. A follow fills
    at once against the book copy read now, level by level up to its limit, as a
    taker with Kalshi's taker fee; what does not cross is canceled (paper orders
    never rest, since nothing would match them later)."""

    has_account = False

    async def place(self, request: PlaceRequest) -> Placed:
        yes, no = await self.levels(request.ticker)
        # A bid takes NO bids (asks at 1 - p), best first; an ask takes YES bids, best first.
        if request.side == "bid":
            asks = sorted((ONE_DOLLAR - p, c) for p, c in no)
            crossing = [(p, c) for p, c in asks if p <= request.price]
        else:
            crossing = [(p, c) for p, c in sorted(yes, reverse=True) if p >= request.price]
        left, now = request.count, time.time()
        fills: list[FillReport] = []
        for price, size in crossing:
            if left <= 0:
                break
            qty = min(left, size)
            left -= qty
            fills.append(
                FillReport(
                    trade_id=f"paper-{request.client_order_id}-{len(fills) + 1}",
                    order_id=f"paper-{request.client_order_id}",
                    market_ticker=request.ticker,
                    side=request.side,
                    yes_price=price,
                    count=qty,
                    fee=trade_fee(qty, price, taker=True),
                    is_taker=True,
                    ts=now,
                    client_order_id=request.client_order_id,
                )
            )
        return Placed(f"paper-{request.client_order_id}", request.count - left, 0, tuple(fills))

    async def cancel(self, order_id: str, ticker: str) -> bool:
        return False  # paper orders never rest

    async def order(self, order_id: str) -> ExchangeOrder | None:
        return None

    async def find_order(self, client_order_id: str, ticker: str) -> ExchangeOrder | None:
        return None

    async def open_orders(self) -> list[ExchangeOrder]:
        return []

    async def fills(self, order_id: str) -> list[FillReport]:
        return []

    async def positions(self) -> list[ExchangePosition]:
        return []

    async def balance(self) -> int:
        return 0

    async def settlements(self, since: float | None = None) -> list[SettlementReport]:
        return []
