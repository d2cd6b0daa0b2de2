"""``manage.py strategy_report [--since ISO] [--json]``: what following, skipping and fading
every whale would have made, and what our follows did make (trading.outcomes.report)."""

import json
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.outcomes import report
from trading.outcomes.selectors import strategy_report


def parse_since(text: str) -> float:
    """An ISO 8601 date or time (UTC unless it says otherwise) as Unix seconds."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--since {text!r} is not an ISO 8601 date or time (e.g. 2026-12-03T09:00)") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class Command(BaseCommand):
    help = "Report the strategy: decisions, markouts, and actual vs what-if P&L of every whale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="Only whales traded at or after this ISO 8601 time (UTC by default).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: object, **options: Any) -> None:
        since = parse_since(options["since"]) if options["since"] else None
        data = strategy_report(since)
        self.stdout.write(json.dumps(data, indent=2) if options["json"] else report.text(data))
