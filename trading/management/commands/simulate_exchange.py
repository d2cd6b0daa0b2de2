"""Run the Kalshi-compatible exchange simulator (trading.simulator) until SIGINT/SIGTERM."""

import asyncio
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trading.feed.recording import BadRecording
from trading.management.limits import check_port, check_range
from trading.simulator.replay import replay_server
from trading.simulator.server import SimConfig, SimulatorServer


class Command(BaseCommand):
    help = "Serve Kalshi's REST API and market-data WebSocket from a local simulated exchange."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.KALSHI.sim_host)
        parser.add_argument("--port", type=int, default=settings.KALSHI.sim_port)
        parser.add_argument("--markets", type=int, default=5, help="number of markets (default 5)")
        parser.add_argument("--seed", type=int, default=1, help="random-walk seed (same seed, same stream)")
        parser.add_argument("--whale-rate", type=float, default=0.02, help="share of public trades that are whales")
        parser.add_argument(
            "--rate", type=float, default=500.0, help="market-data messages/s over all markets; 0 = as fast as read"
        )
        parser.add_argument("--public-key", help="RSA public key PEM to trust (default: the sim key in SIM_DIR)")
        parser.add_argument("--key-id", help="API key id that goes with --public-key")
        parser.add_argument("--paused", action="store_true", help="start with the random walk paused")
        parser.add_argument(
            "--market-lifetime",
            type=float,
            default=settings.KALSHI.sim_market_lifetime or 0.0,
            help="seconds before a market closes and settles, a new one listed in its place (default "
            "SIM_MARKET_LIFETIME, else 0 = never)",
        )
        parser.add_argument(
            "--replay",
            type=Path,
            help="serve this recording (run_feeds --record) instead of the random walk: its markets, books, trades",
        )
        parser.add_argument(
            "--speed", type=float, default=1.0, help="with --replay: this many times the recorded pace (default 1)"
        )
        parser.add_argument("--delay-ms", type=int, default=0, help="fault: hold every WebSocket frame this long")
        parser.add_argument("--gap-every", type=int, default=0, help="fault: skip a seq every N sequenced messages")
        parser.add_argument(
            "--malformed-every", type=int, default=0, help="fault: a malformed frame after every N data frames"
        )
        parser.add_argument("--drop-every", type=float, default=0.0, help="fault: drop all connections every S s")
        parser.add_argument("--reject-every", type=int, default=0, help="fault: answer every Nth REST request 429")

    def handle(self, *args, **options) -> None:
        check_port("--port", options["port"], allow_any=True)
        check_range("--markets", options["markets"], low=1)
        check_range("--rate", options["rate"], low=0)
        check_range("--market-lifetime", options["market_lifetime"], low=0)
        check_range("--whale-rate", options["whale_rate"], low=0, high=1)
        for option in ("delay_ms", "gap_every", "malformed_every", "drop_every", "reject_every"):
            check_range("--" + option.replace("_", "-"), options[option], low=0)
        if bool(options["public_key"]) != bool(options["key_id"]):
            raise CommandError("--public-key and --key-id go together.")
        if options["public_key"] and not Path(options["public_key"]).is_file():
            raise CommandError(f"--public-key {options['public_key']} is not a readable file.")
        config = SimConfig(
            markets=options["markets"],
            seed=options["seed"],
            whale_rate=options["whale_rate"],
            rate=options["rate"],
            key_id=options["key_id"] or "",
            public_key_path=Path(options["public_key"]) if options["public_key"] else None,
            host=options["host"],
            port=options["port"],
            paused=options["paused"],
            market_lifetime_s=options["market_lifetime"],
            delay_ms=options["delay_ms"],
            gap_every=options["gap_every"],
            malformed_every=options["malformed_every"],
            drop_every_s=options["drop_every"],
            reject_every=options["reject_every"],
        )
        check_range("--speed", options["speed"], low=0.001)
        try:
            asyncio.run(self._serve(config, options["replay"], options["speed"]))
        except BadRecording as exc:
            raise CommandError(f"--replay: {exc}") from None
        except OSError as exc:
            raise CommandError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None

    async def _serve(self, config: SimConfig, replay_path: Path | None, speed: float) -> None:
        server, replay = (
            replay_server(config, replay_path, speed=speed) if replay_path else (SimulatorServer(config), None)
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.start()
        replaying = asyncio.create_task(replay.run()) if replay is not None else None
        self.stdout.write(
            f"Simulator serving {server.rest_url} and {server.ws_url} (key id {server.config.key_id}); Ctrl-C stops."
        )
        try:
            await stop.wait()
        finally:
            if replaying is not None:
                replaying.cancel()
            await server.stop()
            self.stdout.write("Simulator stopped.")
