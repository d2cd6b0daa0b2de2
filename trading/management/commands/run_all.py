"""``python manage.py run_all``: the whole system in one process (embedded default, `make run`)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.feed.embedded import default_sim_config, run_all
from trading.feed.service import StartupFailed
from trading.management.limits import check_port, check_range


class Command(BaseCommand):
    help = (
        "Run the web server, the exchange simulator, the feed runner and whale execution in one process and "
        "one event loop (the embedded default: SQLite, in-memory channel layer, eager tasks)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--markets", default="", help="comma-separated tickers (default: the most active)")
        parser.add_argument("--count", type=int, default=settings.FEED.market_count, help="markets to follow")
        parser.add_argument("--sim-markets", type=int, default=8, help="markets the simulator lists")
        parser.add_argument("--sim-rate", type=float, default=100.0, help="simulated market-data messages/s")
        parser.add_argument("--whale-rate", type=float, default=0.01, help="share of simulated trades that are whales")

    def handle(self, *args: object, **options: Any) -> None:
        kalshi = settings.KALSHI
        if kalshi.env != "sim":
            raise CommandError("run_all starts the simulator: it needs KALSHI_ENV=sim (use run_feeds for demo/prod).")
        check_port("--port", options["port"])
        check_range("--count", options["count"], low=1)
        check_range("--sim-markets", options["sim_markets"], low=1)
        check_range("--sim-rate", options["sim_rate"], low=0)
        check_range("--whale-rate", options["whale_rate"], low=0, high=1)
        if options["port"] == kalshi.sim_port:
            raise CommandError(
                f"--port {kalshi.sim_port} is the simulator's port (SIM_PORT): pick another --port or SIM_PORT."
            )
        explicit = [t for t in str(options["markets"]).split(",") if t.strip()] or list(settings.FEED.markets)
        url = f"http://{options['host']}:{options['port']}/"
        try:
            reason = run_all(
                host=str(options["host"]),
                port=int(options["port"]),
                sim=default_sim_config(
                    markets=int(options["sim_markets"]),
                    rate=float(options["sim_rate"]),
                    whale_rate=float(options["whale_rate"]),
                ),
                explicit=explicit,
                count=int(options["count"]),
                on_ready=lambda: self.stdout.write(f"V3 Trader serving {url} (Ctrl-C stops)", ending="\n"),
            )
        except StartupFailed as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"stopped: {reason}")
