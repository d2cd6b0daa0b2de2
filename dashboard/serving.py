"""The web process: the site's ASGI application under the server ``WEB_SERVER`` names.

uvicorn with its ``websockets`` protocol is the default. Per delivered message
daphne's own send (Twisted under its asyncio reactor, autobahn framing) costs
40-90 us of CPU on this project's 2-core machine and uvicorn's 16-35 us, and the
project's whole path half as much under uvicorn (bench/README.md, fanout).
uvicorn's ``send`` also waits while the socket's write buffer is over its limit,
so a browser that stops reading fills its outbox and is closed (4409) instead of
growing the server's buffer: daphne never makes ``send`` wait.

daphne stays supported (``WEB_SERVER=daphne``): ``runserver`` and the embedded
``run_all`` use it.
"""

from dataclasses import dataclass

# The site's application, as both servers import it.
APPLICATION = "v3site.asgi:application"
# Close every browser socket after this long: never. daphne's default is 24 h
# (docs/architecture.md pitfalls); the dashboard would resume, but there is no reason to cut it.
DAPHNE_WEBSOCKET_TIMEOUT = -1
# The largest message a browser may send. Its commands are at most 2,000 characters
# (dashboard.protocol.MAX_COMMAND_CHARS); uvicorn's default, 16 MiB, times the 32
# messages it queues per socket, would let one browser hold 512 MiB of the server.
WS_MAX_SIZE = 64 * 1024
# On SIGTERM, how long open sockets get to close (uvicorn sends each 1012, "restart")
# before the process exits anyway; browsers resume by event id from the next process.
SHUTDOWN_GRACE = 5


@dataclass(frozen=True, slots=True)
class Listen:
    """Where to accept: an inherited listening socket (``fd``, shared by one process per
    core) or a host and port of its own."""

    host: str = "127.0.0.1"
    port: int = 8000
    fd: int | None = None


def serve(*, server: str, listen: Listen, app: str = APPLICATION, proxy_headers: bool = False) -> None:
    """Serve ``app`` until SIGTERM/SIGINT with ``server`` (``uvicorn`` or ``daphne``)."""
    if server == "uvicorn":
        _uvicorn(listen, app, proxy_headers)
    elif server == "daphne":
        _daphne(listen, app, proxy_headers)
    else:
        raise ValueError(f"unknown web server {server!r}: uvicorn or daphne")


def _uvicorn(listen: Listen, app: str, proxy_headers: bool) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=listen.host,
        port=listen.port,
        fd=listen.fd,
        # The implementation measured (bench/README.md): its send awaits the socket's
        # drain (websockets' 64 KiB write limit), which bounds what a slow browser holds.
        ws="websockets",
        ws_max_size=WS_MAX_SIZE,
        # The application pings each browser itself (DASHBOARD_PING_INTERVAL) and closes
        # the ones that stop answering with its own code (4408).
        ws_ping_interval=None,
        ws_ping_timeout=None,
        lifespan="off",
        # Django's LOGGING stays in charge; one line per request is daphne's default too (none).
        log_config=None,
        access_log=False,
        # Only a proxy on this host is trusted with X-Forwarded-Proto/-For (FORWARDED_ALLOW_IPS widens it).
        proxy_headers=proxy_headers,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )


def _daphne(listen: Listen, app: str, proxy_headers: bool) -> None:
    from daphne.cli import CommandLineInterface

    where = ["--fd", str(listen.fd)] if listen.fd is not None else ["-b", listen.host, "-p", str(listen.port)]
    proxy = ["--proxy-headers"] if proxy_headers else []
    argv = [*where, "--websocket_timeout", str(DAPHNE_WEBSOCKET_TIMEOUT), *proxy, app]
    CommandLineInterface().run(argv)
