"""``manage.py backtest PATH [--set NAME=VALUE ...] [--compare NAME=VALUE ...] [--json]``:
the whale strategy replayed over a recording (trading.backtest.engine), with the
settings in force or changed by ``--set``; ``--compare`` runs a second configuration
(the first one's plus its own changes) over the same recording, side by side.

A changed setting goes through the settings' own parsing and validation
(v3site/settings/execution.py and feed.py run again with it in the environment), so
``--set EXEC_COOLDOWN=1m`` fails exactly as it would at start-up.
"""

import json
import os
import re
import runpy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.backtest.engine import Backtest
from trading.feed.recording import BadRecording, read_frames
from trading.outcomes import report

AREAS = ("v3site.settings.execution", "v3site.settings.feed")


def _area_file(area: str) -> str:
    return __import__(area, fromlist=["_"]).__file__ or ""


def known_settings() -> set[str]:
    """The variables the decision and whale settings read: the names ``--set`` accepts."""
    names: set[str] = set()
    for area in AREAS:
        source = Path(_area_file(area)).read_text()
        names |= set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source))
    return names


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    known = known_settings()
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CommandError(f"{pair!r}: expected NAME=VALUE, e.g. EXEC_COOLDOWN=0")
        if name not in known:
            raise CommandError(f"{name} is not a decision or whale setting (known: {', '.join(sorted(known))})")
        out[name] = value
    return out


def configured(overrides: dict[str, str]) -> tuple[Any, Any]:
    """(EXECUTION, FEED) as the settings would build them with ``overrides`` in the environment."""
    saved = dict(os.environ)
    os.environ.update(overrides)
    try:
        # run_path, not run_module: the modules are imported already, and must stay as they are.
        execution = runpy.run_path(_area_file(AREAS[0]))["EXECUTION"]
        feed = runpy.run_path(_area_file(AREAS[1]))["FEED"]
    except ImproperlyConfigured as exc:
        raise CommandError(str(exc)) from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return execution, feed


def run_backtest(path: Path, overrides: dict[str, str]) -> tuple[dict[str, Any], float]:
    """The backtest's output (deterministic) and how long it took (not part of the output)."""
    execution, feed = configured(overrides)
    engine = Backtest(
        rules=execution.rules,
        limits=execution.limits,
        min_notional=feed.whale_min_notional,
        relative_factor=feed.whale_relative_factor,
    )
    started = time.perf_counter()
    try:
        engine.run(read_frames(path))
    except BadRecording as exc:
        raise CommandError(str(exc)) from None
    elapsed = time.perf_counter() - started
    return {"settings": overrides, "recording": engine.summary(), "report": report.build(engine.rows())}, elapsed


class Command(BaseCommand):
    help = "Replay the whale rule, decision rules and risk limits over a recording and report the outcomes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="a recording folder (run_feeds --record) or one of its files")
        parser.add_argument(
            "--set", action="append", default=[], metavar="NAME=VALUE", help="change a setting for this run"
        )
        parser.add_argument(
            "--compare",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="also run a second configuration: the first one's settings plus these",
        )
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: object, **options: Any) -> None:
        path: Path = options["path"]
        first = parse_overrides(options["set"])
        runs = [("a", first)]
        if options["compare"]:
            runs.append(("b", {**first, **parse_overrides(options["compare"])}))
        results = {}
        for name, overrides in runs:
            results[name], elapsed = run_backtest(path, overrides)
            span = results[name]["recording"]["recorded_seconds"]
            # Speed goes to stderr: the report itself must be the same on every run.
            self.stderr.write(
                f"backtest {name}: {span:.0f} s of recording in {elapsed:.2f} s"
                + (f" ({span / elapsed:.0f}x real time)" if elapsed > 0 else "")
            )
        output: dict[str, Any] = results["a"] if len(runs) == 1 else results
        if options["json"]:
            self.stdout.write(json.dumps(output, indent=2, sort_keys=True))
            return
        for name, result in results.items():
            if len(runs) > 1:
                self.stdout.write(f"== configuration {name}: {result['settings'] or 'the settings in force'}")
            rec = result["recording"]
            self.stdout.write(
                f"recording: {rec['frames']} frames, {rec['recorded_seconds']:.0f} s, {len(rec['markets'])} markets; "
                f"no result recorded for {len(rec['unsettled_markets_with_whales'])} markets with whales"
            )
            self.stdout.write(report.text(result["report"]))
