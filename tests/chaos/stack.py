"""The services shape on throwaway parts the chaos test may kill: its own Postgres
cluster and Redis server (never the machine's shared ones), the simulator, feed
runners and Celery worker pools as real processes, each in its own process group so
``kill -9`` takes a worker's pool with it."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from glob import glob
from pathlib import Path

import httpx
import psycopg

from tests.browser.server import ROOT, free_port, manage
from tests.waiting import wait_for

PG_BIN = Path(sorted(glob("/usr/lib/postgresql/*/bin"))[-1]) if glob("/usr/lib/postgresql/*/bin") else Path()
# initdb and postgres refuse to run as root: the cluster belongs to this user.
PG_USER = "postgres"


def binaries_missing() -> list[str]:
    """The server programs the stack runs that this machine lacks."""
    needed = [PG_BIN / "initdb", PG_BIN / "pg_ctl", Path(shutil.which("redis-server") or "redis-server")]
    return [path.name for path in needed if not path.exists()]


def _as_pg_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *argv] if os.geteuid() == 0 else argv


class Postgres:
    """A cluster of its own in ``directory``, on a free port; restartable."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: its parents are private to root, and the cluster's user must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="v3-chaos-pg-"))
        self.data = self.directory / "pg"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/chaos"

    def start(self) -> None:
        if not self.data.exists():
            self.data.mkdir(parents=True)
            if os.geteuid() == 0:
                shutil.chown(self.directory, PG_USER)
                shutil.chown(self.data, PG_USER)
            subprocess.run(
                _as_pg_user([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]),
                check=True,
                capture_output=True,
            )
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data} -c fsync=off"
        subprocess.run(
            _as_pg_user(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.data / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'chaos'").fetchone():
                conn.execute("CREATE DATABASE chaos")

    def stop(self) -> None:
        subprocess.run(
            _as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()


class Redis:
    """A redis-server of its own with nothing persisted: a restart loses what it held."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = directory / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        wait_for(self._answers, 15, "redis-server")

    def _answers(self) -> bool:
        return subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).returncode == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Service:
    """One process of the services shape (``manage.py ...`` or ``celery ...``), in its own
    process group, its output in ``log``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Service":
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def kill(self) -> None:
        """``kill -9`` the process and its children (a Celery worker's pool)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Stack:
    """Postgres, Redis, the simulator, feed runners and Celery pools for one test."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.postgres = Postgres()
        self.redis = Redis(directory)
        self.sim_port = free_port()
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "DJANGO_SETTINGS_MODULE": "v3site.settings",
            "DEBUG": "1",
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "V3_DATA_DIR": str(directory / "data"),
            "CHANNELS_PREFIX": "chaos",
            "KALSHI_ENV": "sim",
            "SIM_PORT": str(self.sim_port),
            **env,
        }
        self.services: list[Service] = []

    def start_stores(self) -> None:
        self.postgres.start()
        self.redis.start()
        manage(self.env, "migrate", "--no-input")

    def spawn(self, name: str, *argv: str) -> Service:
        service = Service(name, [sys.executable, *argv], self.env, self.directory).start()
        self.services.append(service)
        return service

    def simulator(self, *args: str) -> Service:
        service = self.spawn("simulator", "manage.py", "simulate_exchange", "--port", str(self.sim_port), *args)
        wait_for(self._sim_answers, 30, "the simulator")
        return service

    def _sim_answers(self) -> bool:
        try:
            return httpx.post(f"{self.sim_url}/sim/control", json={"action": "status"}, timeout=2).is_success
        except httpx.HTTPError:
            return False

    def control(self, **body: object) -> dict:
        reply = httpx.post(f"{self.sim_url}/sim/control", json=body, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def tickers(self) -> list[str]:
        reply = httpx.get(f"{self.sim_url}/trade-api/v2/markets", timeout=10)
        return [m["ticker"] for m in reply.json()["markets"]]

    def runner(self, name: str, tickers: list[str]) -> Service:
        return self.spawn(name, "manage.py", "run_feeds", "--markets", ",".join(tickers))

    def worker(self, name: str, queue: str) -> Service:
        argv = ["-m", "celery", "-A", "v3site", "worker", "-Q", queue, "-c", "1", "-l", "INFO", "-n", f"{name}@%h"]
        return self.spawn(name, *argv, "--without-mingle", "--without-gossip")

    def beat(self) -> Service:
        return self.spawn("beat", "-m", "celery", "-A", "v3site", "beat", "-s", str(self.directory / "beat-schedule"))

    def close(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.redis.stop()
        self.postgres.remove()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n" + "\n".join(s.output().splitlines()[-30:]) for s in self.services)
