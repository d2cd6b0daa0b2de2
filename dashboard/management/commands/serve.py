"""``python manage.py serve``: the web process (pages, admin, /api/status, the browsers'
WebSocket) under the ASGI server ``WEB_SERVER`` names (dashboard.serving)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from dashboard.serving import APPLICATION, Listen, serve
from trading.management.limits import check_port, check_range


class Command(BaseCommand):
    help = "Serve the site with the ASGI server WEB_SERVER names (uvicorn by default, or daphne)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--fd", type=int, help="accept on this inherited listening socket (one process per core shares it)"
        )
        parser.add_argument(
            "--proxy-headers", action="store_true", help="trust X-Forwarded-Proto/-For from a proxy on this host"
        )
        parser.add_argument("--app", default=APPLICATION, help="the ASGI application (module:attribute)")

    def handle(
        self, *args: object, host: str, port: int, fd: int | None, proxy_headers: bool, app: str, **options: object
    ) -> None:
        check_port("--port", port)
        if fd is not None:
            check_range("--fd", fd, low=0)
        serve(
            server=settings.DASHBOARD.server,
            listen=Listen(host=host, port=port, fd=fd),
            app=app,
            proxy_headers=proxy_headers,
        )
