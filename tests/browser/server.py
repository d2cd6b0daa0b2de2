"""A real daphne process serving the project, for browser tests and the fan-out benchmark.

The listening socket belongs to the caller and is handed to daphne (``--fd``), so
the port is an ephemeral one picked by the kernel, and it stays the same across a
restart: a browser that lost its server finds the new one at the same address.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).with_name("daphne")


class ServerError(RuntimeError):
    """daphne did not come up; the message carries the end of its output."""


class DaphneServer:
    def __init__(self, env: dict[str, str], *, log: Path, app: str = "v3site.asgi:application") -> None:
        self.env = env
        self.app = app
        self.log = log
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        fd = self.listener.fileno()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(DAPHNE), "--fd", str(fd), "--websocket_timeout", "-1", self.app],
                cwd=ROOT,
                env=self.env,
                pass_fds=(fd,),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"daphne exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"daphne did not answer /healthz within {timeout} s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def close(self) -> None:
        self.stop()
        self.listener.close()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def services_env(database_url: str, **extra: str) -> dict[str, str]:
    """The services-shape environment of the current test run, for a child process."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="v3site.settings", DATABASE_URL=database_url)
    env.update(extra)
    return env
