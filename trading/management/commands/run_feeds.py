"""``python manage.py run_feeds``: the feed runner process (docs/architecture.md "Processes")."""

import asyncio
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.feed.service import StartupFailed, Stop, serve
from trading.management.limits import check_range


class Command(BaseCommand):
    help = (
        "Keep the Kalshi feeds: order books, trades, whale detection, state and health, published to the "
        "browsers. With Postgres only one runner per market set is active; others wait as hot standbys."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--markets", default="", help="comma-separated tickers (default: V3_MARKETS, else the most active)"
        )
        parser.add_argument(
            "--count",
            type=int,
            default=settings.FEED.market_count,
            help="how many of the most active open markets to follow when no tickers are given",
        )

        parser.add_argument(
            "--record",
            type=Path,
            default=None,
            help="record every raw exchange frame in this folder (default: FEED_RECORD_DIR; hourly files)",
        )

    def handle(self, *args: object, markets: str, count: int, record: Path | None, **options: Any) -> None:
        check_range("--count", count, low=1)
        explicit = [t for t in markets.split(",") if t.strip()] or list(settings.FEED.markets)
        try:
            reason = asyncio.run(self._main(explicit, count, record))
        except StartupFailed as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"feed runner stopped: {reason}")

    async def _main(self, explicit: list[str], count: int, record: Path | None) -> str:
        stop = Stop()
        stop.on_signals()
        return await serve(explicit=explicit, count=count, stop=stop, record=record)
