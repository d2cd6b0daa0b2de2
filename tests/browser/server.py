"""Real server processes for browser tests and the fan-out benchmark.

``web_server``: the web process alone (``manage.py serve``, under the ASGI server
given, uvicorn or daphne), on a listening socket that belongs to the caller and is
handed over with ``--fd``: the kernel picks the port, and it stays the same across a
restart, so a browser that lost its server finds the new one at the same address.
``run_all_server``: the whole embedded system (``manage.py run_all``: web, simulator,
feed runner, whale execution in one process).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dashboard.serving import APPLICATION

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class ServerError(RuntimeError):
    """The server did not come up; the message carries the end of its output."""


class ServerProcess:
    def __init__(self, argv: list[str], env: dict[str, str], *, log: Path, port: int, pass_fds: tuple = ()) -> None:
        self.argv = argv
        self.env = env
        self.log = log
        self.port = port
        self.pass_fds = pass_fds
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        # The ASGI server of a web process (uvicorn or daphne); None for run_all.
        self.kind: str | None = None
        self.listener: socket.socket | None = None

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, pass_fds=self.pass_fds, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"manage.py {self.argv[2]} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"manage.py {self.argv[2]} did not answer /healthz within {timeout} s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def close(self) -> None:
        self.stop()
        if self.listener is not None:
            self.listener.close()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def web_server(env: dict[str, str], *, log: Path, server: str, app: str = APPLICATION) -> ServerProcess:
    return web_servers(env, log=log, server=server, app=app)[0]


def web_servers(
    env: dict[str, str], *, log: Path, server: str, app: str = APPLICATION, processes: int = 1
) -> list[ServerProcess]:
    """``processes`` web processes under ``server`` (``WEB_SERVER``: uvicorn or daphne)
    accepting on one listening socket (the kernel spreads the connections among them),
    the way one runs per core. Each ``start()`` returns once the socket answers, which
    may be an earlier process's answer: a later one may still be starting
    (bench/fanout.py counted an even split anyway)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    fd = listener.fileno()
    argv = [str(BIN / "python"), "manage.py", "serve", "--fd", str(fd), "--app", app]
    port = listener.getsockname()[1]
    env = dict(env, WEB_SERVER=server)
    servers = [ServerProcess(argv, env, log=log, port=port, pass_fds=(fd,)) for _ in range(processes)]
    servers[0].listener = listener
    for process in servers:
        process.kind = server
    return servers


def free_port() -> int:
    """A port the kernel just handed out, for servers that bind by number (a small race, unlike --fd)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def embedded_env(data_dir: Path) -> dict[str, str]:
    """The embedded default's environment (no DATABASE_URL, no REDIS_URL) in a data folder of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="v3site.settings", V3_DATA_DIR=str(data_dir), SIM_PORT=str(free_port()))
    return env


def run_all_server(env: dict[str, str], *, log: Path, extra: tuple[str, ...] = ()) -> ServerProcess:
    port = free_port()
    argv = [str(BIN / "python"), "manage.py", "run_all", "--port", str(port), *extra]
    return ServerProcess(argv, env, log=log, port=port)


def manage(env: dict[str, str], *args: str) -> str:
    """Run one management command in ``env``; its output, or an error with it."""
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode:
        raise ServerError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout
