"""Fresh Python processes for the tests that must see what a new process sees (settings
read from the environment once, at start-up), without paying for Django's imports each time.

A zygote process imports the libraries the project loads (Django, Channels, Celery,
django-environ) and never configures settings; each probe is a fork of it with its own
environment, working folder and output files, so it starts as a new interpreter would,
in milliseconds instead of the ~0.6 s those imports cost. The zygote is one per test
process (pytest-xdist workers each have theirs) and ends with it.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ZYGOTE = r"""
import json, os, sys, traceback
import django, django.db, django.http, django.middleware.csrf, channels, celery.app, daphne.server
import environ, kombu, msgspec, orjson, httpx
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_TRUNC), fd)
            code = 0
            try:
                exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if exc.code is not None and not isinstance(exc.code, int):
                    print(exc.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(json.dumps(os.waitstatus_to_exitcode(status)), flush=True)
"""

_zygote: subprocess.Popen | None = None


def _running_zygote() -> subprocess.Popen:
    global _zygote
    if _zygote is None or _zygote.poll() is not None:
        _zygote = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
    return _zygote


def run_python(code: str, *, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``code`` as ``python -c`` would, with exactly ``env`` as its environment."""
    zygote = _running_zygote()
    assert zygote.stdin is not None and zygote.stdout is not None
    with tempfile.TemporaryDirectory(prefix="v3-probe-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        out.touch()
        err.touch()
        request = {"code": code, "env": env, "cwd": str(cwd), "stdout": str(out), "stderr": str(err)}
        zygote.stdin.write(json.dumps(request) + "\n")
        zygote.stdin.flush()
        returncode = json.loads(zygote.stdout.readline())
        return subprocess.CompletedProcess(["python", "-c", code], returncode, out.read_text(), err.read_text())
